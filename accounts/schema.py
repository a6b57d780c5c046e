from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; issue keys with `manage.py create_token USERNAME`.",
        }


class InvocationTokenScheme(TokenScheme):
    """The same header; on the invocation path a key is remembered for a few seconds."""

    target_class = "accounts.authentication.InvocationTokenAuthentication"
    name = "invocationTokenAuth"
