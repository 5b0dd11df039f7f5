"""The bot's settings: the core's (``retrieval.settings.Settings``) plus Discord, rate limits and
the priorities of the bot's threads. ``newsbot`` reads them once, at the start of every command."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from retrieval.settings import Settings, env_alias, load_settings


class BotSettings(Settings):
    """Everything ``newsbot run`` and the Discord bot read. Env names are given in ``validation_alias``."""

    # Added to the nice value of the bot's worker threads (searching, answering, reading files; Linux),
    # so the event loop that acknowledges Discord's interactions is served first when the cores are
    # busy; article embedding adds ingest_nice on top. 0 keeps normal priority.
    worker_nice: int = Field(default=5, ge=0, le=19, validation_alias=env_alias("NEWSBOT_WORKER_NICE", "worker_nice"))

    # Discord
    discord_token: SecretStr | None = Field(default=None, validation_alias=env_alias("DISCORD_TOKEN", "discord_token"))
    discord_api_base: str | None = Field(
        default=None, validation_alias=env_alias("DISCORD_API_BASE", "discord_api_base")
    )
    discord_gateway_url: str | None = Field(
        default=None, validation_alias=env_alias("DISCORD_GATEWAY_URL", "discord_gateway_url")
    )
    discord_dev_guild: int | None = Field(
        default=None, validation_alias=env_alias("NEWSBOT_DEV_GUILD", "discord_dev_guild")
    )
    discord_admin_role: str | None = Field(
        default=None, validation_alias=env_alias("NEWSBOT_ADMIN_ROLE", "discord_admin_role")
    )
    discord_allow_dms: bool = Field(default=False, validation_alias=env_alias("NEWSBOT_ALLOW_DMS", "discord_allow_dms"))
    discord_sharded: bool = Field(default=False, validation_alias=env_alias("NEWSBOT_SHARDED", "discord_sharded"))
    rate_limit_questions: int = Field(
        default=5, ge=1, validation_alias=env_alias("NEWSBOT_RATE_LIMIT_QUESTIONS", "rate_limit_questions")
    )
    rate_limit_seconds: float = Field(
        default=60.0, gt=0, validation_alias=env_alias("NEWSBOT_RATE_LIMIT_SECONDS", "rate_limit_seconds")
    )
    stream_edit_interval: float = Field(
        default=1.0, ge=0, validation_alias=env_alias("NEWSBOT_STREAM_EDIT_INTERVAL", "stream_edit_interval")
    )

    # New articles from a followed feed posted in its channel per poll; one line counts the rest.
    feed_posts: int = Field(default=5, ge=0, le=20, validation_alias=env_alias("NEWSBOT_FEED_POSTS", "feed_posts"))

    @field_validator("discord_api_base", "discord_gateway_url", mode="before")
    @classmethod
    def _blank_url_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def load_bot_settings(**overrides: object) -> BotSettings:
    """BotSettings from the environment and ``.env``; a bad value is one ConfigError line."""
    return load_settings(BotSettings, **overrides)
