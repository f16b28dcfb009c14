"""An account's details as "label: value" lines (the details pane and the list's tooltip), Qt-free. They never
contradict the state: a signed-out account is not "signed in as" anyone and has no expiry or renewals (issue 17
item 9)."""

from __future__ import annotations

from desktop_app.accounts.models import Account, AccountState
from desktop_app.errors import one_line
from desktop_app.ui import scope_words, text

#: Identity sources that are the server's word for who signed in (the rest: the person's own name for the account).
REPORTED = ("id_token", "userinfo", "access_token")


def needs_sign_in(account: Account, now: float) -> bool:
    """Only signing in again helps: the account needs a sign-in, or has expired without a way to renew itself."""
    return account.state is not AccountState.SIGNED_OUT and text.account_state(account, now)[1] is text.Tone.ATTENTION


def account_form(account: Account, state: str, now: float) -> list[str]:
    """The account's details as "label: value" lines that agree with its state: a signed-out account is not "signed
    in as" anyone, nor does it have an expiry or renewals."""
    signed_in = account.state is AccountState.SIGNED_IN
    reported = account.identity_source in REPORTED
    lines = [
        f"State: {state}",
        f"Who: {one_line(account.label)}" + (" (as the sign-in reported it)" if reported else ""),
    ]
    if account.nickname:
        lines.append(f"Nickname: {one_line(account.nickname)}")
    lines.append(f"Authorization server: {one_line(account.issuer, 400)}")
    if signed_in:
        if account.expires_at is not None:
            lines.append(f"Access expires: {text.when(account.expires_at)}")
        lines.append(f"Renewal: {'by itself' if account.has_refresh_token else 'none; sign in again when it expires'}")
        lines.append(f"Last renewed: {text.renewed_text(account, now)}")
    if account.signed_in_at:
        lines.append(f"{'Signed in' if signed_in else 'Last signed in'}: {text.when(account.signed_in_at)}")
    if account.state is not AccountState.SIGNED_OUT:
        proven = scope_words.account_scopes(
            account.scopes, refresh_token=account.has_refresh_token, identity_source=account.identity_source
        )
        lines.append(f"Permissions: {scope_words.named(proven)}")
    if account.last_error:
        prefix = "Why" if account.state is AccountState.NEEDS_SIGN_IN else "Last renewal problem"
        lines.append(f"{prefix}: {one_line(account.last_error, 400)}")
    return lines
