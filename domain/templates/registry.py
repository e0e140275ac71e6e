"""The installed template packs: one TOML file per industry under ``packs/``.

Adding an industry means adding a file; nothing here names one.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PACKS_DIR = Path(__file__).with_name("packs")


class LocalizedText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class PackHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    name: LocalizedText
    description: LocalizedText


class PackFile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    pack: PackHeader


class PackError(ValueError):
    """A pack file is malformed; the message names the file and every problem in it."""


def load_pack(path: Path) -> PackFile:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        pack = PackFile.model_validate(document)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"{path.name}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise PackError(f"{path.name}: {problems}") from exc
    if pack.pack.code != path.stem:
        raise PackError(f"{path.name}: pack.code {pack.pack.code!r} must match the file name")
    return pack


@lru_cache(maxsize=1)
def installed_packs() -> dict[str, PackFile]:
    """Every pack under ``packs/``, by code. Raises ``PackError`` on the first bad file."""
    return {path.stem: load_pack(path) for path in sorted(PACKS_DIR.glob("*.toml"))}


def pack_codes() -> list[str]:
    return sorted(installed_packs())
