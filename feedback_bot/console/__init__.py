"""The web console for practice admins, served by the bot's own HTTP server
(``app/http.py``) when ``FEEDBACK_BOT_CONSOLE_ENABLED`` is set. Server-rendered pages, no
JavaScript. An admin belongs to one practice and sees only it; no page shows a client's
words. ``routes.py`` lists every page; ``auth.py`` is the guard every page passes."""
