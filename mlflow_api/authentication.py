"""How the stock MLflow client signs its requests, mapped onto our credentials.

``MLFLOW_TRACKING_TOKEN`` arrives as ``Authorization: Bearer <key>``: one of our API
tokens, checked (and remembered) exactly as ``Authorization: Token <key>`` on
``/api/v1/``, scopes included. ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` arrive as
HTTP Basic: a user's password, checked by the same throttled sign-in backend as the
login page; like a session, it carries every role of the user.
"""

from __future__ import annotations

from rest_framework.authentication import BasicAuthentication as DrfBasic

from accounts.authentication import TokenAuthentication


class BearerAuthentication(TokenAuthentication):
    keyword = "Bearer"


class BasicAuthentication(DrfBasic):
    www_authenticate_realm = "mlflow"
