"""Runs one migration module of hooks/migrations/ during `copier update` (see docs/updating.md).

copier.yml lists each migration under the template version that needs it:

    _migrations:
      - version: "0.1.0"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrations/run.py",
                  "sync_env_file", "--answers-file", "{{ _copier_conf.answers_file }}"]
        when: "{{ true }}"

Copier runs the command in the project when the project's template version is older than
`version` and the version updated to is at least `version`: once before its own update (STAGE
"before": the project still holds the old version) and once after it (STAGE "after"). It passes
STAGE, VERSION_FROM and VERSION_TO (git descriptions of the two template commits) and
VERSION_CURRENT (the entry's `version`) in the environment. Answers come from the project's
answers file: Copier renders no answers into the command at the "before" stage.

A migration module may define
- MOVES, a list of (old, new) paths of generated files the new version moved, written as under
  template/ ("src/{{ package_name }}/x.py"): the user's copy moves, keeping their edits merged
  with the template's changes to the file;
- before(context) and after(context), for anything else, run at that stage.

Standard library and git only: Copier runs migrations with its own Python.
"""

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

MIGRATIONS_DIR = Path(__file__).resolve().parent
TEMPLATE_CHECKOUT = MIGRATIONS_DIR.parents[1]
# copier.yml's _subdirectory: where generated files live inside the template repository.
TEMPLATE_SUBDIRECTORY = "template"
PACKAGE_PLACEHOLDER = "{{ package_name }}"
# The labels Copier itself writes in inline conflicts, so one search finds every conflict.
CONFLICT_LABELS = ("before updating", "last update", "after updating")


def read_answers(answers_file: Path) -> dict[str, str]:
    """The top-level scalar answers of a Copier answers file (YAML, read without a YAML library)."""
    answers = {}
    if answers_file.is_file():
        for line in answers_file.read_text(encoding="utf-8").splitlines():
            if match := re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*):\s*(\S.*?)\s*", line):
                answers[match.group(1)] = match.group(2).strip("'\"")
    return answers


@dataclass(frozen=True)
class Context:
    """What a migration knows: the project, both template versions and the stage."""

    project: Path
    template: Path  # checkout of the template version being updated to
    answers: dict[str, str]  # as in the answers file: the old ones "before", the new ones "after"
    stage: str  # "before" or "after"
    version_from: str  # git description of the project's template commit before the update
    version_to: str
    version: str  # the `version` of this migration's copier.yml entry

    def project_path(self, template_path: str) -> Path:
        """Where a path written as under template/ lands in the project."""
        package = self.answers.get("package_name", "")
        return self.project / template_path.replace(PACKAGE_PLACEHOLDER, package)

    def git(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *args], cwd=cwd or self.project, capture_output=True, check=False
        )

    def template_file(self, revision: str, template_path: str) -> bytes | None:
        """A verbatim template file at `revision` of the template (None if absent or templated).

        Files ending in .jinja are rendered by Copier, so their source is no copy of what the
        project received; they come back as None.
        """
        result = self.git(
            "show", f"{revision}:{TEMPLATE_SUBDIRECTORY}/{template_path}", cwd=self.template
        )
        return result.stdout if result.returncode == 0 else None

    def committed_file(self, template_path: str) -> bytes | None:
        """The project's committed copy of a file (Copier updates only clean projects)."""
        relative = self.project_path(template_path).relative_to(self.project).as_posix()
        result = self.git("show", f"HEAD:./{relative}")
        return result.stdout if result.returncode == 0 else None

    def still_generated(self, template_path: str) -> bool:
        """Whether the version updated to still generates `template_path`."""
        source = self.template / TEMPLATE_SUBDIRECTORY / template_path
        return source.exists() or source.with_name(source.name + ".jinja").exists()


def merge(current: bytes, base: bytes, other: bytes) -> tuple[bytes, int]:
    """Three-way merge with git merge-file: the merged bytes and the number of conflicts."""
    with tempfile.TemporaryDirectory(prefix="copier-migration-") as scratch:
        paths = []
        for name, content in (("current", current), ("base", base), ("other", other)):
            path = Path(scratch, name)
            path.write_bytes(content)
            paths.append(str(path))
        labels = [arg for label in CONFLICT_LABELS for arg in ("-L", label)]
        result = subprocess.run(
            ["git", "merge-file", "-p", *labels, *paths], capture_output=True, check=False
        )
    if result.returncode < 0 or result.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {result.stderr.decode(errors='replace')}")
    return result.stdout, result.returncode


def move_before(context: Context, old: str) -> None:
    """Put the old version's own copy of `old` in the working tree.

    Copier takes the user's edits from the git index (which still holds their copy) and applies
    them to the working tree; on the pristine copy they apply cleanly, with no conflict or .rej
    file, and Copier then removes the file because the new version no longer generates it.
    """
    pristine = context.template_file(context.version_from, old)
    if pristine is not None and context.committed_file(old) is not None:
        context.project_path(old).write_bytes(pristine)


def move_after(context: Context, old: str, new: str) -> str:
    """Carry the user's copy of `old` to `new`, merged with the new version's `new`."""
    user = context.committed_file(old)
    pristine = context.template_file(context.version_from, old)
    old_path, new_path = context.project_path(old), context.project_path(new)
    label = f"{old_path.relative_to(context.project)} -> {new_path.relative_to(context.project)}"
    if user is None:
        if pristine is not None:
            # The user had deleted the file: a move must not bring it back.
            new_path.unlink(missing_ok=True)
            return f"{label}: you had deleted it, so it stays deleted"
        return f"{label}: nothing to move"
    if new_path.exists():
        # Without the old version's copy (a .jinja file) there is no base: every difference
        # between the user's copy and the new one is marked for the user to resolve.
        merged, conflicts = merge(user, pristine or b"", new_path.read_bytes())
    else:
        merged, conflicts = user, 0
    new_path.parent.mkdir(parents=True, exist_ok=True)
    new_path.write_bytes(merged)
    if not context.still_generated(old):
        old_path.unlink(missing_ok=True)
    # Copier may leave a rejected hunk of the old file when it had no base to apply it to.
    old_path.with_name(old_path.name + ".rej").unlink(missing_ok=True)
    if conflicts:
        return f"{label}: {conflicts} conflict(s) marked with <<<<<<< in {new_path.name}"
    return f"{label}: your edits kept"


def load_migration(name: str) -> ModuleType:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not (MIGRATIONS_DIR / f"{name}.py").is_file():
        raise SystemExit(f"No migration module hooks/migrations/{name}.py")
    # Migrations may import the shared hook modules (env_file) next to hooks/migrations/.
    sys.path[:0] = [str(MIGRATIONS_DIR), str(MIGRATIONS_DIR.parent)]
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module: ModuleType, context: Context) -> list[str]:
    """Apply the module's MOVES and its hook for the current stage; return what was done."""
    done = []
    for old, new in getattr(module, "MOVES", ()):
        if context.stage == "before":
            move_before(context, old)
        else:
            done.append(move_after(context, old, new))
    hook: Callable[[Context], None] | None = getattr(module, context.stage, None)
    if hook is not None:
        hook(context)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("migration", help="module name in hooks/migrations/")
    parser.add_argument(
        "--answers-file", default=".copier-answers.yml", help="the project's answers file"
    )
    args = parser.parse_args(argv)
    stage = os.environ.get("STAGE", "")
    if stage not in ("before", "after"):
        raise SystemExit("STAGE must be 'before' or 'after' (Copier sets it for migrations).")
    context = Context(
        project=Path.cwd(),
        template=TEMPLATE_CHECKOUT,
        answers=read_answers(Path.cwd() / args.answers_file),
        stage=stage,
        version_from=os.environ.get("VERSION_FROM", ""),
        version_to=os.environ.get("VERSION_TO", ""),
        version=os.environ.get("VERSION_CURRENT", ""),
    )
    for line in run(load_migration(args.migration), context):
        print(f"Migration {context.version} ({args.migration}): {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
