"""Make the scenario's staff accounts: random passwords (for the tests) and crypt hashes (for
the role), written to the Molecule ephemeral directory given as the only argument."""

import json
import secrets
import sys
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

ACCOUNTS = {
    "staff1": ["staff1@ereje.test"],
    "staff2": ["staff2@ereje.test"],
    "bulk": ["bulk@ereje.test"],
    "notices": ["notices@ereje.test", "rector-office@ereje.test"],
}

out = Path(sys.argv[1])
passwords = {login: secrets.token_urlsafe(18) for login in ACCOUNTS}
users = [
    {
        "login": login,
        "addresses": addresses,
        "password_hash": crypt.crypt(passwords[login], crypt.mksalt(crypt.METHOD_SHA512)),
    }
    for login, addresses in ACCOUNTS.items()
]
(out / "mail_passwords.json").write_text(json.dumps(passwords))
(out / "mail_passwords.json").chmod(0o600)
(out / "mail_users.json").write_text(json.dumps(users))
(out / "mail_users.json").chmod(0o600)
