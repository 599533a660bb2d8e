from __future__ import annotations

from rest_framework import serializers

from accounts.models import TradingAccount, User


class TradingAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradingAccount
        # password_env_var is deliberately absent: even the variable name stays server-side.
        fields = ["id", "name", "broker", "broker_login", "broker_server", "currency",
                  "leverage", "initial_balance", "status", "created_at"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    # Optional, so often "": a plain string in the schema ("" is not a valid "email" format).
    email = serializers.CharField(read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)
    trading_accounts = TradingAccountSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "roles",
                  "trading_accounts", "last_login", "date_joined"]
        read_only_fields = fields
