"""Bearer-token authentication of the status API: ``Authorization: Bearer hc_<prefix>_<random>``.

A request authenticated this way has ``request.user`` = the token's owner and ``request.auth`` =
the token; ``apps.core.api.ApiPermission`` then asks for the owner's permission *and* the
token's scope.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts.services import api_token_authenticate
from apps.core.errors import HubError

# Longer than any secret we issue; refused before hashing.
_MAX_SECRET = 100


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not ours: the session may still authenticate the request
        if len(parts) != 2 or len(parts[1]) > _MAX_SECRET:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <token>'.", code="TOKEN_INVALID"
            )
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The API token is not valid.", code="TOKEN_INVALID"
            ) from None
        try:
            token = api_token_authenticate(secret=secret)
        except HubError as error:
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from None
        return token.owner, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Declares the bearer scheme in the OpenAPI document."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "hc_<prefix>_<secret>",
            "description": "An API token issued by an administrator (docs/api.md).",
        }
