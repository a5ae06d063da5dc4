"""Issue, revoke and list API tokens of the status API from the command line."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts.choices import ApiTokenScopeChoices
from apps.accounts.models import ApiToken
from apps.accounts.selectors import api_token_get, api_token_list
from apps.accounts.services import api_token_create, api_token_revoke
from apps.core.errors import HubError


class Command(BaseCommand):
    help = "Create, revoke or list API tokens (the secret is printed once, at creation)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        create = commands.add_parser("create", help="issue a token; prints its secret once")
        create.add_argument("--user", required=True, help="user name of the owner")
        create.add_argument("--name", required=True, help="what the token is for")
        create.add_argument(
            "--scope",
            action="append",
            choices=ApiTokenScopeChoices.values,
            required=True,
            help="read or replay; repeat for both",
        )
        create.add_argument("--days", type=int, default=90, help="days until it expires")
        revoke = commands.add_parser("revoke", help="revoke a token at once")
        revoke.add_argument("--prefix", required=True, help="the token's 8-character prefix")
        commands.add_parser("list", help="list tokens (never their secrets)")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "revoke":
            self._revoke(options["prefix"])
        else:
            self._list()

    def _create(self, options) -> None:
        try:
            owner = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {options['user']!r}.") from None
        try:
            token, secret = api_token_create(
                owner=owner,
                name=options["name"],
                scopes=options["scope"],
                days=options["days"],
                actor=None,
            )
        except HubError as error:
            raise CommandError(error.message) from None
        self.stderr.write(
            f"Token {token.key_prefix} for {owner.get_username()} "
            f"({', '.join(token.scopes)}), expires {token.expires_at:%Y-%m-%d}. "
            "The secret below is shown only now:"
        )
        self.stdout.write(secret)

    def _revoke(self, prefix: str) -> None:
        try:
            token = api_token_revoke(token_id=api_token_get(key_prefix=prefix).pk, actor=None)
        except ApiToken.DoesNotExist:
            raise CommandError(f"No token with prefix {prefix!r}.") from None
        self.stdout.write(f"Revoked {token.key_prefix} ({token.name}).")

    def _list(self) -> None:
        now = timezone.now()
        for token in api_token_list():
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.key_prefix}  {token.state(now):<7}  {token.owner.get_username():<12} "
                f"{','.join(token.scopes):<12} expires {token.expires_at:%Y-%m-%d}  "
                f"last used {used}  {token.name}"
            )
