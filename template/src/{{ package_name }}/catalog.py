"""How the assets are found and read in the UI: owners, tags and links to their source code.

Every asset names its owner (`OWNERS`) and its layer in tags (`layer_tags`), so the catalog's
search and filters find, say, every transform asset or every asset of one exchange.

`with_code_references` adds a "source code" link to every asset: the file and line of its
definition, or, when the project is a git repository whose `origin` remote is on GitHub or
GitLab, that file on the remote at the checked-out branch (or commit). The remote is read from
`.git/config` and `.git/HEAD` (no git command runs); any other host keeps the local links.
"""

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import dagster as dg

# Owners the catalog shows and searches: `team:<name>` or e-mail addresses.
OWNERS = ["team:market-data"]

# The project's root: where pyproject.toml and .git are (src/<package>/catalog.py -> root).
PROJECT_ROOT = Path(__file__).resolve().parents[2]

_REMOTE_SECTION = re.compile(r'^\s*\[remote\s+"origin"\]\s*$')
_SECTION = re.compile(r"^\s*\[")
_URL = re.compile(r"^\s*url\s*=\s*(\S+)\s*$")
# git@host:owner/repo(.git), ssh://git@host/owner/repo(.git), https://host/owner/repo(.git)
_SCP_LIKE = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):(?P<path>.+)$")
_URL_LIKE = re.compile(
    r"^(?:ssh|https?|git)://(?:[^@/]+@)?(?P<host>[\w.-]+)(?::\d+)?/(?P<path>.+)$"
)
Platform = Literal["github", "gitlab"]


def layer_tags(layer: str, **tags: str) -> dict[str, str]:
    """Tags of an asset of `layer` (extract, transform, graph), plus any given."""
    return {"domain": "market-data", "layer": layer, **tags}


class GitRemote(NamedTuple):
    url: str  # https://github.com/owner/repo
    branch: str  # a branch name, or the checked-out commit
    platform: Platform


def web_url(remote_url: str) -> tuple[str, Platform] | None:
    """A remote's web address and platform, or None for a host other than GitHub or GitLab.

    Example::

        web_url("git@github.com:acme/crypto.git")  # ("https://github.com/acme/crypto", "github")
    """
    found = _SCP_LIKE.match(remote_url) or _URL_LIKE.match(remote_url)
    if not found:
        return None
    host, path = found.group("host"), found.group("path").strip("/").removesuffix(".git")
    platform: Platform | None = (
        "github" if "github" in host else "gitlab" if "gitlab" in host else None
    )
    return (f"https://{host}/{path}", platform) if platform else None


def git_remote(project_root: Path = PROJECT_ROOT) -> GitRemote | None:
    """The `origin` remote and checked-out branch of the project's git repository, if any."""
    git_dir = project_root / ".git"
    if not (git_dir / "config").is_file() or not (git_dir / "HEAD").is_file():
        return None
    in_origin, remote_url = False, None
    for line in (git_dir / "config").read_text(errors="replace").splitlines():
        if _SECTION.match(line):
            in_origin = bool(_REMOTE_SECTION.match(line))
        elif in_origin and (found := _URL.match(line)):
            remote_url = found.group(1)
    web = web_url(remote_url) if remote_url else None
    if web is None:
        return None
    head = (git_dir / "HEAD").read_text().strip()
    branch = head.removeprefix("ref: refs/heads/") if head.startswith("ref: ") else head
    return GitRemote(url=web[0], branch=branch, platform=web[1])


def with_code_references(
    assets: Sequence[dg.AssetsDefinition],
    project_root: Path = PROJECT_ROOT,
    remote: GitRemote | None = None,
) -> list[dg.AssetsDefinition]:
    """`assets` with a source code link each: to `remote` (by default the project's git remote,
    when there is one on GitHub or GitLab), else to the local file and line."""
    remote = remote or git_remote(project_root)
    with warnings.catch_warnings():
        # Both helpers are marked beta in Dagster 1.13; their behaviour is tested here.
        warnings.simplefilter("ignore", dg.BetaWarning)
        referenced = dg.with_source_code_references(assets)
        if remote is not None:
            referenced = dg.link_code_references_to_git(
                referenced,
                git_url=remote.url,
                git_branch=remote.branch,
                platform=remote.platform,
                file_path_mapping=dg.AnchorBasedFilePathMapping(
                    local_file_anchor=project_root / "pyproject.toml",
                    file_anchor_path_in_repository="pyproject.toml",
                ),
            )
    return [asset for asset in referenced if isinstance(asset, dg.AssetsDefinition)]
