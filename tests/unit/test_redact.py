import io
import logging

from desktop_app.oauth.redact import configure_logging, redact

SECRETS = [
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    "rt-SECRET-123",
    "code-SECRET-456",
    "verifier-SECRET-789",
    "client-SECRET-000",
]


def test_redact_catches_every_shape() -> None:
    text = (
        f"Authorization: Bearer {SECRETS[0]} "
        f"POST /token refresh_token={SECRETS[1]}&code={SECRETS[2]}&code_verifier={SECRETS[3]} "
        f'{{"client_secret": "{SECRETS[4]}", "access_token": "{SECRETS[0]}"}} '
        f"bare jwt {SECRETS[0]} Basic Y2xpZW50OnNlY3JldA=="
    )
    cleaned = redact(text)
    for secret in [*SECRETS, "Y2xpZW50OnNlY3JldA=="]:
        assert secret not in cleaned
    assert "POST /token" in cleaned
    assert "[redacted]" in cleaned


def test_logging_handler_redacts_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = configure_logging(logging.DEBUG, stream)
    try:
        log = logging.getLogger("desktop_app.test")
        log.info("token request code=%s", SECRETS[2])
        try:
            raise RuntimeError(f"boom refresh_token={SECRETS[1]}")
        except RuntimeError:
            log.exception("failed")
        logging.getLogger("httpx").info("HTTP Request: GET https://as.example/cb?code=%s", SECRETS[2])
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    output = stream.getvalue()
    assert "token request code=[redacted]" in output
    assert "boom refresh_token=[redacted]" in output
    for secret in SECRETS:
        assert secret not in output
    assert "HTTP Request" not in output  # httpx's INFO request log is silenced
