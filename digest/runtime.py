"""What a running command needs: the configuration, the database and the secret key."""

from __future__ import annotations

import secrets as token_source
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Config, ConfigError
from digest.db import make_engine, session_factory

SECRET_FILE_NAME = "secret_key"


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.config.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def secret_key(self) -> str:
        """The configured secret, else the one `digest init` generated under var/."""
        if self.config.settings.secret_key:
            return self.config.settings.secret_key
        path = self.config.var_dir / SECRET_FILE_NAME
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        raise ConfigError(
            f"{self.config.path}: secret_key is not set: set it in the file or in DIGEST_SECRET_KEY, "
            "or run `digest init` to generate one under var/"
        )

    def ensure_secret_key(self) -> bool:
        """Generate var/secret_key when no secret is configured; return True if one was created."""
        path = self.config.var_dir / SECRET_FILE_NAME
        if self.config.settings.secret_key or path.is_file():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token_source.token_urlsafe(48) + "\n", encoding="utf-8")
        path.chmod(0o600)
        self.__dict__.pop("secret_key", None)
        return True

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
