"""What a person reads: the status and funnel (``report``), the HTML report and its charts
(``html_report``, ``plots``), the trace pager (``show``), progress bars and the live status of a running
stage (``progress``, ``live``), data cards (``cards``) and the catalogue of checks and adapters
(``catalog``). Views read the store; they never import a stage."""
