"""``qa passwd``: add a login for the web chat, or change its password."""

from __future__ import annotations

import argparse
import sys

from qa.cli.common import Subcommands


def add_passwd(commands: Subcommands) -> None:
    pw = commands.add_parser(
        "passwd",
        help="add a login for the web chat, or change its password",
        description="Add USER to the login file FILE (made if missing) or change their password. "
        "Start the web chat with it: python app.py --auth-file FILE",
    )
    pw.add_argument("file", metavar="FILE", help="the login file, one USER:HASH a line")
    pw.add_argument("user", metavar="USER", help="the user name (no ':' or spaces)")
    pw.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking twice",
    )


def _read_password(user: str, from_stdin: bool) -> str:
    import getpass

    from qa import BadInputError
    from qa.web.auth import check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInputError(
                "No password on stdin. Pipe it in as one line, or leave out --password-stdin."
            )
        check_password(password)
        return password
    try:
        password = getpass.getpass(f"Password for {user}: ")
        check_password(password)  # before asking again
        again = getpass.getpass("Repeat it: ")
    except EOFError:
        raise BadInputError(
            "No terminal to ask for the password on. Pipe it in with --password-stdin."
        ) from None
    if again != password:
        raise BadInputError("The two passwords differ; nothing was changed. Run the command again.")
    return password


def run_passwd(args: argparse.Namespace) -> int:
    from qa import BadInputError
    from qa.web.auth import check_user, read_auth_file, set_password

    check_user(args.user)  # before asking for a password
    try:
        existed = args.user in read_auth_file(args.file)
    except BadInputError:  # missing, empty or damaged: set_password adds the user or says why not
        existed = False
    password = _read_password(args.user, args.password_stdin)
    set_password(args.file, args.user, password)
    print(
        f"{'Updated' if existed else 'Added'} user {args.user} in {args.file}. "
        f"Start the web chat with: python app.py --auth-file {args.file}"
    )
    return 0
