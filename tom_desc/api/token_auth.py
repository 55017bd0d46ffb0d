"""/api/token-auth/ (a password for an API token) under the login rate limit (see `auth`)."""

from typing import Any

from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from tom_common.accounts.api_views import TomObtainAuthToken

from tom_desc.api.auth import rate_limited_authenticate


class RateLimitedAuthTokenSerializer(AuthTokenSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        username, password = attrs.get("username"), attrs.get("password")
        if not (username and password):
            raise serializers.ValidationError('Must include "username" and "password".', code="authorization")
        user = rate_limited_authenticate(self.context["request"], username=username, password=password)
        if user is None:
            raise serializers.ValidationError("Unable to log in with provided credentials.", code="authorization")
        attrs["user"] = user
        return attrs


class RateLimitedObtainAuthToken(TomObtainAuthToken):
    """TOM Toolkit's /api/token-auth/ (refused when tokens need MFA), rate-limited."""

    serializer_class = RateLimitedAuthTokenSerializer


obtain_auth_token = RateLimitedObtainAuthToken.as_view()
