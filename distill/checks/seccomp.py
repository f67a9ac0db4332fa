"""A seccomp filter for sandboxed programs, built here as classic BPF (no libseccomp binding needed).

Denied with EPERM: ptrace, process_vm_readv/writev, process_madvise, kcmp, pidfd_open and pidfd_getfd
(a program must never take another process's file descriptors: the harness holds the host's pipes), mount
and the new mount API, umount, pivot_root, chroot, unshare, setns, ``clone`` with any namespace flag,
keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd, io_uring (setup, enter, register),
modify_ldt (x86_64), POSIX message queues (``mq_open``: they would outlive a program inside the sandbox's
IPC namespace), kernel modules, kexec, reboot, swap, quotactl and acct. ``socket`` and ``socketpair`` are
allowed only for AF_UNIX, AF_INET and AF_INET6 (netlink, vsock, packet and every other family a judge never
needs get EAFNOSUPPORT; vsock would reach the host past the network namespace). ``clone3`` gets ENOSYS (its
flags live in memory a filter cannot read; libc then falls back to ``clone``, which is checked). On x86_64
the x32 ABI is denied; a call from another architecture (i386 through ``int 0x80``) kills the process.
Everything else is allowed: this narrows the kernel surface, it does not make a whitelist.

``program()`` is the filter as bytes (an array of ``struct sock_filter``), for ``bwrap --seccomp FD``;
``install()`` loads it into the calling process (the rlimit fallback, after its last privileged step).
Only x86_64 and aarch64 are known; elsewhere ``program()`` returns None and no filter is used.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low half: little-endian)
CLONE_NAMESPACES = 0x7E020080  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
X32_BIT = 0x40000000

# name: (x86_64, aarch64); None where the architecture has no such call
DENIED: dict[str, tuple[int | None, int | None]] = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "process_madvise": (440, 440), "kcmp": (312, 272), "pidfd_open": (434, 434), "pidfd_getfd": (438, 438),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "modify_ldt": (154, None), "mq_open": (240, 180),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51),
    "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430), "fsconfig": (431, 431),
    "fsmount": (432, 432), "fspick": (433, 433), "mount_setattr": (442, 442),
    "unshare": (272, 97), "setns": (308, 268),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "quotactl": (179, 60), "acct": (163, 89),
}
_ARCHES = {"x86_64": (0, 0xC000003E, 56, 435), "aarch64": (1, 0xC00000B7, 220, 435)}  # column, audit arch,
# clone, clone3
SOCKET_CALLS = {"x86_64": (41, 53), "aarch64": (198, 199)}  # socket, socketpair
ALLOWED_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6


def _assemble(steps: list[tuple]) -> bytes:
    """Steps are ``(label,)`` markers or ``(code, k, jump_true, jump_false)`` with labels for jumps."""
    labels, index = {}, 0
    for step in steps:
        if len(step) == 1:
            labels[step[0]] = index
        else:
            index += 1
    out, index = [], 0
    for step in steps:
        if len(step) == 1:
            continue
        code, k, jump_true, jump_false = step
        offset = [labels[label] - index - 1 if label else 0 for label in (jump_true, jump_false)]
        out.append(struct.pack("=HBBI", code, *offset, k))
        index += 1
    return b"".join(out)


def program(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this one), or None for an architecture not known here."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    column, audit_arch, clone, clone3 = arch
    steps: list[tuple] = [(_LD_ABS, _ARCH, None, None), (_JEQ, audit_arch, None, "kill"),
                          (_LD_ABS, _NR, None, None)]
    if column == 0:
        steps.append((_JGE, X32_BIT, "deny", None))
    steps += [(_JEQ, numbers[column], "deny", None) for numbers in DENIED.values() if numbers[column] is not None]
    steps += [(_JEQ, number, "socket", None) for number in SOCKET_CALLS[machine or platform.machine()]]
    steps += [(_JEQ, clone3, "enosys", None), (_JEQ, clone, "clone", None), (_RET, RET_ALLOW, None, None),
              ("clone",), (_LD_ABS, _ARG0, None, None), (_JSET, CLONE_NAMESPACES, "deny", None),
              (_RET, RET_ALLOW, None, None),
              ("socket",), (_LD_ABS, _ARG0, None, None),
              *((_JEQ, family, "allow", None) for family in ALLOWED_FAMILIES),
              (_RET, RET_ERRNO | errno.EAFNOSUPPORT, None, None),
              ("allow",), (_RET, RET_ALLOW, None, None),
              ("deny",), (_RET, RET_ERRNO | errno.EPERM, None, None),
              ("enosys",), (_RET, RET_ERRNO | errno.ENOSYS, None, None),
              ("kill",), (_RET, RET_KILL_PROCESS, None, None)]
    return _assemble(steps)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def install() -> bool:
    """Load the filter into this process (and its future children). False where no filter is known."""
    code = program()
    if code is None:
        return False
    buffer = ctypes.create_string_buffer(code, len(code))
    prog = _Program(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "could not install the seccomp filter")
    return True
