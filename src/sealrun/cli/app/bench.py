"""The developer's side of ``sealrun app`` (issue 6): ``init`` makes a template bundle,
``fingerprint`` measures one, and ``test`` runs it locally through the real sandbox and
pre/post-compute (``docs/enclave.md``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.app.group import BUNDLE_ARGUMENT, app_app
from sealrun.cli.output import EXIT_ERROR, JSON_OPTION, Output
from sealrun.core.tasks.secretsbundle import MAX_SECRET_INDEX, is_secret_index
from sealrun.errors import ConfigError

__all__ = ["fingerprint", "init", "run_test"]

_FOLDER_ARGUMENT = typer.Argument(Path("."), help="Where to create the bundle (default: here).")
_NAME_OPTION = typer.Option(None, help="The app's name (default: the folder's name).")
_TEMPLATE_OPTION = typer.Option("python", "--template", help="The app's language: python, node or shell.")
_INPUT_OPTION = typer.Option(None, "--input", help="A file or folder to use as the dataset.")
_INPUT_FILE_OPTION = typer.Option(
    [], "--input-file", help="A local file given to the app as an input file (repeatable; after the URLs)."
)
_INPUT_URL_OPTION = typer.Option(
    [], "--input-url", help="A public https input file URL (repeatable); file:// and loopback are refused."
)
_ARGS_OPTION = typer.Option("", "--args", help="The request's args, split like a shell would.")
_SECRET_OPTION = typer.Option([], "--secret", help="A requester secret N=VALUE (repeatable).")
_APP_SECRET_OPTION = typer.Option(None, "--app-secret", help="The app developer secret.")
_OUT_OPTION = typer.Option(None, "--out", help="New folder for output/ and logs/ (default: a temp folder).")


@app_app.command("init")
def init(
    folder: Path = _FOLDER_ARGUMENT,
    name: str | None = _NAME_OPTION,
    template: str = _TEMPLATE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a working app from a template: sealrun-app.toml, an iExec-style app, a test input
    and a README of three commands (app test, app deploy, app run)."""
    from sealrun.adapters.bundlefiles import load_bundle
    from sealrun.cli.apptemplates import TEMPLATES, template_files
    from sealrun.core.bundles import MANIFEST_NAME, parse_manifest

    out = Output(json_out)
    if template not in TEMPLATES:
        raise ConfigError(
            f"--template {template!r}: expected one of {', '.join(TEMPLATES)}", code="CONFIG_INVALID"
        )
    app_name = name or folder.resolve().name
    files = template_files(template, app_name)
    parse_manifest(files[MANIFEST_NAME])  # a bad --name fails here, with the manifest's own error
    for relative in files:
        if (folder / relative).exists():
            raise ConfigError(f"{folder / relative} already exists; not overwriting it", code="OUTPUT_EXISTS")
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    bundle = load_bundle(folder)
    out.info(f"Created a {template} app in {folder}; next: cd {folder} and see README.md")
    out.result(
        {
            "bundle": str(bundle.root),
            "name": app_name,
            "template": template,
            "files": sorted(files),
            "fingerprint": bundle.fingerprint_hex,
            "next": f"sealrun app test {folder} --input {folder}/test-input/dataset.txt "
            f"--input-file {folder}/test-input/input.txt --secret 1=a-requester-secret "
            "--app-secret an-app-secret",
        }
    )


@app_app.command("fingerprint")
def fingerprint(bundle: Path = BUNDLE_ARGUMENT, json_out: bool = JSON_OPTION) -> None:
    """Measure a bundle: its fingerprint (our MRENCLAVE), manifest and files."""
    from sealrun.adapters.bundlefiles import load_bundle

    loaded = load_bundle(bundle)
    Output(json_out).result(
        {
            "fingerprint": loaded.fingerprint_hex,
            "name": loaded.manifest.name,
            "runtime": loaded.manifest.runtime,
            "files": len(loaded.files),
            "bytes": sum(f.size for f in loaded.files),
            "manifest": loaded.manifest.to_dict(),
        }
    )


def _parse_secret(text: str) -> tuple[int, str]:
    index, sep, value = text.partition("=")
    if not sep or not is_secret_index(index):
        raise ConfigError(
            f"--secret {text!r}: expected N=VALUE with N ASCII digits 1 to {MAX_SECRET_INDEX}",
            code="CONFIG_INVALID",
        )
    return int(index), value


@app_app.command("test")
def run_test(
    bundle: Path = BUNDLE_ARGUMENT,
    input_path: Path | None = _INPUT_OPTION,
    input_file: list[Path] = _INPUT_FILE_OPTION,
    input_url: list[str] = _INPUT_URL_OPTION,
    args: str = _ARGS_OPTION,
    secret: list[str] = _SECRET_OPTION,
    app_secret: str | None = _APP_SECRET_OPTION,
    out_dir: Path | None = _OUT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Run the app locally through the real sandbox and pre/post-compute; show output and logs.

    Exits 1 when the task fails (the failure code is shown), 0 when it completes. Input files
    come from the public internet as on a worker (``--input-url``), or from local files named
    one by one (``--input-file``); a URL may not name a local file.
    """
    import tempfile

    from sealrun.enclave.localtest import run_local_test

    out = Output(json_out)
    secrets = dict(_parse_secret(s) for s in secret)
    target = out_dir or Path(tempfile.mkdtemp(prefix="sealrun-app-test-")) / "result"
    out.info(f"Running {bundle} in the sandbox…")
    ran = run_local_test(
        bundle,
        output_dir=target,
        input_path=input_path,
        input_files=input_url,
        local_input_files=input_file,
        args=args,
        requester_secrets=secrets,
        app_developer_secret=app_secret,
    )
    report = ran.report
    logs = {name: (ran.logs_dir / name).read_text(errors="replace") for name in ("stdout.log", "stderr.log")
            if (ran.logs_dir / name).is_file()}  # fmt: skip
    files = []
    if ran.output_dir is not None:
        files = sorted(
            p.relative_to(ran.output_dir).as_posix() for p in ran.output_dir.rglob("*") if p.is_file()
        )
    data = {
        "status": report.status,
        "fingerprint": report.fingerprint,
        "exit_status": report.exit_status,
        "failure": None if report.failure is None else report.failure.name,
        "result_digest": None if report.result is None else report.result.digest,
        "output_dir": None if ran.output_dir is None else str(ran.output_dir),
        "output_files": files,
        "logs_dir": str(ran.logs_dir),
        "stdout": logs.get("stdout.log", ""),
        "stderr": logs.get("stderr.log", ""),
        "seconds": round(report.timings.total_s, 3),
    }

    def human(console: object) -> None:
        from rich.console import Console

        assert isinstance(console, Console)
        colour = "green" if report.status == "completed" else "red"
        console.print(f"[bold {colour}]{report.status}[/]  fingerprint {report.fingerprint}")
        if report.failure is not None:
            console.print(f"failure: [bold]{report.failure.name}[/] (code {report.failure.code})")
        console.print(f"exit status: {report.exit_status}   time: {data['seconds']} s")
        for name in ("stdout", "stderr"):
            console.rule(name)
            console.print(str(data[name]).rstrip("\n") or "(empty)", markup=False, highlight=False)
        console.rule("output")
        for name in files:
            console.print(f"{ran.output_dir}/{name}", markup=False)
        if not files:
            console.print("(no output)")
        console.print(f"logs: {ran.logs_dir}", markup=False)

    out.result(data, human)
    if report.status != "completed":
        raise SystemExit(EXIT_ERROR)  # the result is printed above; the status tells scripts
