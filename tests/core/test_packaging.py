"""The package installs and integrates anywhere: saving without os.fchmod, resources as
package data (checked from a wheel installed with ``pip install --target``), ``python -m
designer``, hints naming the command that was run, the light ``import designer`` and its
API, the version, and the desktop entry and icons."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import stat
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

from designer.core.io import load, save
from designer.core.presets import load_preset
from tests.reference_figures import TORCHVISION_COUNTS

ROOT = Path(__file__).resolve().parents[2]


# --- saving where os.fchmod does not exist (Windows, Python 3.10-3.12) ---------------------


def test_save_works_without_os_fchmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fchmod")
    design = load_preset("resnet18")
    path = tmp_path / "a.resnet.json"
    save(design, path)
    save(design.replace(name="again"), path)  # over an existing file, keeping NAME~
    assert load(path).name == "again"
    assert load(tmp_path / "a.resnet.json~") == design
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_save_survives_a_file_system_that_refuses_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(fd: int, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse, raising=False)
    path = tmp_path / "b.resnet.json"
    save(load_preset("resnet18"), path)
    assert load(path) == load_preset("resnet18")


@pytest.mark.skipif(not hasattr(os, "fchmod") or os.name == "nt", reason="POSIX modes")
def test_save_keeps_the_mode_where_the_platform_has_modes(tmp_path: Path) -> None:
    path = tmp_path / "c.resnet.json"
    save(load_preset("resnet18"), path)
    path.chmod(0o640)
    save(load_preset("resnet34"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# --- the wheel: resources as package data, from a `pip install --target` ------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child with no display, so that `gui` answers with its hint."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("PYTHONPATH", None)
    return {**env, "PYTHONIOENCODING": "utf-8", **extra}


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=120, cwd=cwd, env=child_env(**env)
    )


def copy_source(dest: Path) -> Path:
    """The files a build reads, copied: building in the checkout would leave build/ and
    *.egg-info there (shared by every test run) and carry over files deleted since."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("designer", "resources"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=junk)
    for name in ("pyproject.toml", "README.md", "LICENSE", "main.py"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this tree, installed with ``pip install --target``."""
    base = tmp_path_factory.mktemp("wheel")
    source = copy_source(base / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), "."]
    done = run(build, cwd=source)
    assert done.returncode == 0, done.stderr
    (wheel,) = (base / "dist").glob("resnet_designer-*.whl")
    installed = base / "target"
    done = run([*pip, "install", "--no-deps", "--target", str(installed), str(wheel)], cwd=base)
    assert done.returncode == 0, done.stderr
    return installed


def in_target(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with the installed target first on the path, from an unrelated folder."""
    return run([sys.executable, *args], cwd=target.parent, PYTHONPATH=str(target))


@pytest.mark.slow
def test_the_wheel_carries_the_resources_as_package_data(target: Path) -> None:
    data = target / "designer" / "_resources"
    presets = sorted(p.name for p in (data / "presets").glob("*.resnet.json"))
    assert presets == sorted(p.name for p in (ROOT / "resources" / "presets").glob("*.json"))
    for name in ("styles/app.qss", "icons/app.svg", "icons/app-512.png", DESKTOP.name):
        assert (data / name).is_file(), name
    assert not list(data.rglob("*.py"))  # the icon renderer is a development tool
    assert (target / "designer" / "py.typed").is_file()
    (info,) = target.glob("resnet_designer-*.dist-info")
    assert "MIT" in (info / "licenses" / "LICENSE").read_text(encoding="utf-8")
    entry_points = (info / "entry_points.txt").read_text(encoding="utf-8")
    assert "[gui_scripts]\nresnet-designer-gui = designer.app_launcher:gui_main" in entry_points
    assert not (target / "share").exists()  # nothing installed outside the package


@pytest.mark.slow
def test_the_installed_package_runs_from_anywhere(target: Path) -> None:
    code = (
        "import sys, designer; from designer.core.resources import resource_dir;"
        "print(designer.__file__); print(resource_dir()); print(designer.__version__)"
    )
    done = in_target(target, "-c", code)
    assert done.returncode == 0, done.stderr
    where, resources, version = done.stdout.splitlines()
    assert Path(where).parent == target / "designer"  # not the checkout's editable install
    assert Path(resources) == target / "designer" / "_resources"
    assert version == project()["version"]

    done = in_target(target, "-m", "designer", "presets", "--names")
    assert (done.returncode, done.stderr) == (0, "")
    assert len(done.stdout.split()) == len(list((ROOT / "resources" / "presets").iterdir()))
    done = in_target(target, "-m", "designer", "summary", "resnet50")
    assert (done.returncode, done.stderr) == (0, "")
    assert f"{TORCHVISION_COUNTS['resnet50'].params:,}" in done.stdout


@pytest.mark.slow
def test_the_installed_script_names_itself_in_hints(target: Path) -> None:
    script = target / "bin" / "resnet-designer"
    if not script.is_file():
        pytest.skip("pip wrote no scripts for this --target")
    done = run([str(script), "gui"], cwd=target.parent, PYTHONPATH=str(target))
    if sys.platform.startswith("linux"):
        assert done.returncode == 2
        assert "'resnet-designer presets | summary" in done.stderr


def test_a_checkout_runs_without_installing(tmp_path: Path) -> None:
    """The repository layout alone (no wheel, no editable install): resources/ is found."""
    source = tmp_path / "checkout"
    for folder in ("designer", "resources"):
        shutil.copytree(ROOT / folder, source / folder, dirs_exist_ok=True)
    shutil.copy2(ROOT / "main.py", source / "main.py")
    code = "from designer.core.resources import resource_dir; print(resource_dir())"
    done = run([sys.executable, "-c", code], cwd=source)
    assert Path(done.stdout.strip()) == source / "resources", done.stderr
    done = run([sys.executable, str(source / "main.py"), "presets", "--names"], cwd=tmp_path)
    assert done.returncode == 0 and "resnet50\n" in done.stdout, done.stderr


# --- python -m designer, and hints naming the command that was run ------------------------


def test_python_m_designer_and_designer_cli_run_the_cli() -> None:
    for module in ("designer", "designer.cli"):
        done = run([sys.executable, "-m", module, "presets", "--names"], cwd=ROOT)
        assert (done.returncode, done.stderr) == (0, ""), module
        assert "resnet50\n" in done.stdout
        done = run([sys.executable, "-m", module, "gui"], cwd=ROOT)
        if sys.platform.startswith("linux"):
            assert done.returncode == 2
            assert f"'python -m {module} presets | summary" in done.stderr
    done = run([sys.executable, "main.py", "gui"], cwd=ROOT)
    if sys.platform.startswith("linux"):
        assert "'python main.py presets | summary" in done.stderr


@pytest.mark.parametrize(
    ("argv0", "main_spec", "expected"),
    [
        ("/usr/local/bin/resnet-designer", None, "resnet-designer"),
        ("C:\\Python\\Scripts\\resnet-designer-gui.exe", None, "resnet-designer"),
        ("/home/me/src/designer/__main__.py", "designer.__main__", "python -m designer"),
        ("/home/me/src/designer/cli.py", "designer.cli", "python -m designer.cli"),
        ("main.py", None, "python main.py"),
        ("../my checkout/main.py", None, "python '../my checkout/main.py'"),
        ("", None, "resnet-designer"),
    ],
)
def test_hints_name_the_command_that_was_run(
    monkeypatch: pytest.MonkeyPatch, argv0: str, main_spec: str | None, expected: str
) -> None:
    from designer import gui

    fake_main = types.ModuleType("__main__")
    fake_main.__spec__ = (  # type: ignore[assignment]
        None if main_spec is None else importlib.machinery.ModuleSpec(main_spec, None)
    )
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    monkeypatch.setattr(sys, "argv", [argv0, "gui"])
    assert gui.invoked_as() == expected
    assert f"'{expected} presets | summary" in gui.headless_hint()


def test_the_gui_script_survives_having_no_standard_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pythonw (a gui-script on Windows) runs with sys.stdout and sys.stderr set to None."""
    from designer import app_launcher, gui

    seen: list[tuple[str | None, str | None]] = []
    monkeypatch.setattr(
        gui, "launch", lambda design, screenshot: seen.append((design, screenshot)) or 0
    )
    monkeypatch.setattr(sys, "argv", ["resnet-designer-gui", "resnet50"])
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert app_launcher.gui_main() == 0
    assert seen == [("resnet50", None)]
    assert sys.stdout is not None and sys.stderr is not None


# --- import designer: light, its API, its version ------------------------------------------


def project() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_import_designer_loads_neither_torch_nor_qt() -> None:
    code = (
        "import sys, designer\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'torch', 'PySide6', 'numpy'}\n"
        "assert not heavy, heavy\n"
        "assert 'designer.core' not in sys.modules\n"
        "names = [getattr(designer, n) for n in designer.__all__ if n not in ('build', 'export')]\n"
        "assert 'torch' not in sys.modules  # only build and export need it\n"
        "print(designer.analyse(designer.load_preset('resnet18')).params)\n"
    )
    done = run([sys.executable, "-c", code], cwd=ROOT)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == str(TORCHVISION_COUNTS["resnet18"].params)


def test_the_api_resolves_every_documented_name() -> None:
    import designer

    assert sorted(designer.__all__) == sorted(["__version__", *designer._API])
    for name in designer.__all__:
        assert getattr(designer, name) is not None, name
    from designer.core.torch.export import export

    assert designer.export is export
    assert set(designer.__all__) <= set(dir(designer))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        designer.nope  # noqa: B018


def test_the_readme_python_api_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Python API\n") :]
    example = section[section.index("```python\n") + 10 :]
    example = example[: example.index("```")]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md (Python API)", "exec"), {})
    assert "parameters" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py", "wide.resnet.json"]


def test_the_version_is_written_once() -> None:
    import designer

    assert designer.__version__ == project()["version"]
    assert "version" not in project().get("dynamic", [])
    readme_cli = subprocess.run(
        [sys.executable, "-m", "designer", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert readme_cli.stdout.strip() == f"resnet-designer {project()['version']}"


def test_every_package_is_listed_for_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "designer").rglob("__init__.py")
    }
    assert listed == found | {"designer._resources"}
    assert config["tool"]["setuptools"]["package-dir"] == {"designer._resources": "resources"}
    assert (ROOT / "designer" / "py.typed").is_file()
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert config["project"]["license"] == "MIT"


# --- desktop integration ----------------------------------------------------------------------

DESKTOP = ROOT / "resources" / "resnet-designer.desktop"
ICON_SIZES = (48, 64, 128, 256, 512)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


def test_the_png_icons_exist_at_every_size() -> None:
    for size in ICON_SIZES:
        assert png_size(ROOT / "resources" / "icons" / f"app-{size}.png") == (size, size)


def desktop_entry(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line and not line.startswith("#"))


def test_the_desktop_entry_names_the_gui_script_and_icon() -> None:
    entry = desktop_entry(DESKTOP)
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == "resnet-designer-gui %f" and entry["Icon"] == "resnet-designer"
    assert "resnet-designer-gui" in project()["gui-scripts"]
    app_py = (ROOT / "designer" / "qt" / "app.py").read_text(encoding="utf-8")
    assert f'setDesktopFileName("{DESKTOP.stem}")' in app_py
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed")
    done = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and "error:" not in done.stdout, done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG desktops")
def test_make_install_desktop_installs_for_the_user_alone(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    home, venv, elsewhere = tmp_path / "home", tmp_path / "a venv", tmp_path / "bin"
    for folder in (home, venv / "bin", elsewhere):
        folder.mkdir(parents=True)
    env = child_env(HOME=str(home), PATH=f"{elsewhere}:/usr/bin:/bin")
    env.pop("XDG_DATA_HOME", None)

    def make_desktop(target: str, venv_dir: Path) -> subprocess.CompletedProcess[str]:
        command = [make, "-s", "-C", str(ROOT), f"VENV={venv_dir}", target]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    done = make_desktop("install-desktop", venv)  # no app to run anywhere: says so
    assert done.returncode != 0 and "no resnet-designer-gui to run" in done.stderr
    assert not list(home.rglob("*"))

    for script in (elsewhere / "resnet-designer-gui", venv / "bin" / "resnet-designer-gui"):
        script.write_text("#!/bin/sh\n", encoding="utf-8")
        script.chmod(0o755)
        done = make_desktop("install-desktop", venv)
        assert done.returncode == 0, done.stderr
        share = home / ".local" / "share"
        entry = desktop_entry(share / "applications" / "resnet-designer.desktop")
        # the checkout's .venv first, else PATH's (a pip or pipx install), quoted for the space
        assert entry["Exec"] == f'"{script}" %f' and entry["TryExec"] == str(script)
        assert entry["Icon"] == "resnet-designer"
    for size in ICON_SIZES:
        icon = share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "resnet-designer.png"
        assert png_size(icon) == (size, size)
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "resnet-designer.svg").is_file()
    written = {p for p in home.rglob("*") if p.is_file()}
    assert all(share in p.parents for p in written)  # nothing outside ~/.local/share
    validate = shutil.which("desktop-file-validate")
    if validate is not None:
        installed = share / "applications" / "resnet-designer.desktop"
        done = subprocess.run([validate, str(installed)], capture_output=True, text=True)
        assert done.returncode == 0 and "error:" not in done.stdout, done.stdout

    assert make_desktop("uninstall-desktop", venv).returncode == 0
    assert not list(home.rglob("resnet-designer*"))
