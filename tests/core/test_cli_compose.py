"""A CLI that composes with pipes, scripts, editors and papers.

Everything runs ``main.py`` in a child process and reads its streams as strict
UTF-8: stdout holds only results (``-o -`` output, JSON), stderr what is said of
them; progress is drawn on a real pseudo-terminal.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from designer.core.analysis import analyse
from designer.core.design import InputSpec
from designer.core.io import SCHEMA_KEY, SCHEMA_URL, design_to_dict, loads
from designer.core.presets import load_preset, preset_names
from designer.core.stages import layer_geometry, stage_figures
from tests.reference_figures import RESNET20_CIFAR_PARAMS, TORCHVISION_COUNTS

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "main.py")


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DISPLAY", None)
    return env


def cli(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, MAIN, *args],
        capture_output=True,
        encoding="utf-8",
        errors="strict",
        input=stdin,
        cwd=cwd,
        env=_env(),
        timeout=180,
    )


def refused(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr, done.stderr


# -o -: text on stdout, binary refused --------------------------------------------------


def test_render_to_stdout_pipes_into_dot(tmp_path: Path) -> None:
    done = cli("render", "resnet18", "-o", "-")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("digraph") and done.stdout.rstrip().endswith("}")
    written = cli("render", "resnet18", "-o", str(tmp_path / "net.dot"))
    assert written.returncode == 0
    assert (tmp_path / "net.dot").read_text(encoding="utf-8") == done.stdout
    if shutil.which("dot") is None:
        pytest.skip("Graphviz 'dot' is not installed: the pipe's second half cannot run")
    pipe = f"{sys.executable} {MAIN} render resnet18 -o - | dot -Tsvg"
    svg = subprocess.run(
        pipe, shell=True, capture_output=True, encoding="utf-8", env=_env(), timeout=120
    )
    assert svg.returncode == 0 and "<svg" in svg.stdout and "layer4" in svg.stdout


def test_render_svg_to_stdout_and_notes_on_stderr(tmp_path: Path) -> None:
    done = cli("render", "resnet20_cifar", "-o", "-", "--format", "svg")
    assert (done.returncode, done.stderr) == (0, "")
    assert "<svg" in done.stdout and "wrote" not in done.stdout
    big = cli("render", "preact_resnet1001_cifar", "-o", "-", "--format", "svg")
    assert big.returncode == 0 and big.stdout.rstrip().endswith("</svg>")
    assert big.stderr.startswith("note: ") and big.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["render", "resnet18", "-o", "-", "--format", "png"],
        ["render", "resnet18", "-o", "-", "--format", "pdf"],
        ["export", "resnet18", "-o", "-", "--format", "pt"],
        ["export", "resnet18", "-o", "-", "--format", "onnx"],
        ["export", "resnet18", "-o", "-", "--format", "safetensors"],
    ],
)
def test_binary_outputs_to_stdout_are_refused(args: list[str]) -> None:
    refused(cli(*args), "binary")


def test_export_model_py_to_stdout_is_the_file_and_runs(tmp_path: Path) -> None:
    done = cli("export", "resnet20_cifar", "-o", "-")
    assert (done.returncode, done.stderr) == (0, "")
    assert cli("export", "resnet20_cifar", "-o", str(tmp_path / "model.py")).returncode == 0
    assert (tmp_path / "model.py").read_text(encoding="utf-8") == done.stdout
    pipe = f"{sys.executable} {MAIN} export resnet20_cifar -o - | {sys.executable} -"
    ran = subprocess.run(
        pipe, shell=True, capture_output=True, encoding="utf-8", env=_env(), timeout=180
    )
    assert ran.returncode == 0, ran.stderr
    params = analyse(load_preset("resnet20_cifar")).params
    assert ran.stdout == f"output shape: (1, 10)\nparameters: {params:,}\n"
    assert params == RESNET20_CIFAR_PARAMS  # the paper's network, not only our own count


def test_open_to_stdout_is_a_design_file_with_its_schema(tmp_path: Path) -> None:
    done = cli("open", "resnet50", "-o", "-")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)[SCHEMA_KEY] == SCHEMA_URL
    assert loads(done.stdout) == load_preset("resnet50")
    (tmp_path / "back.resnet.json").write_text(done.stdout, encoding="utf-8")
    again = cli("validate", str(tmp_path / "back.resnet.json"))
    assert again.returncode == 0 and again.stdout.startswith("ok: ResNet-50")


def test_folders_and_binary_weights_are_never_written_to_stdout() -> None:
    refused(cli("bundle", "resnet18", "-o", "-"), "folder")
    refused(cli("fit", "resnet18", "--max-macs", "1G", "-o", "-"), "folder")


# progress: stderr only, a redrawn line on a terminal ------------------------------------


def _with_terminal_stderr(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); its stdout and what
    the terminal received."""
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, MAIN, *args], stdout=subprocess.PIPE, stderr=slave, cwd=cwd, env=_env()
    )
    os.close(slave)
    received = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            child.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    out = child.stdout.read().decode("utf-8") if child.stdout else ""
    code = child.wait(timeout=60)
    os.close(master)
    return code, out, received.decode("utf-8")


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["export", "resnet20_cifar", "-o", "w.pt"], "export pt: "),
        (["bundle", "resnet20_cifar", "-o", "run"], "bundle: "),
    ],
)
def test_progress_is_drawn_on_a_terminal_and_erased(
    args: list[str], what: str, tmp_path: Path
) -> None:
    code, out, terminal = _with_terminal_stderr(*args, cwd=tmp_path)
    assert code == 0, terminal
    assert out.startswith("wrote ") and what not in out  # stdout: the result alone
    assert terminal.startswith("\r" + what) and "100% done" in terminal
    assert terminal.endswith("\r") and "\n" not in terminal.replace("\r\n", "")  # one line
    erased = terminal.rsplit("\r", 2)[-2]
    assert erased.strip() == ""


def test_progress_elsewhere_is_silent_or_plain_lines(tmp_path: Path) -> None:
    quiet = cli("export", "resnet20_cifar", "-o", "a.pt", cwd=tmp_path)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    lines = cli("bundle", "resnet20_cifar", "-o", "run", "--progress", cwd=tmp_path)
    assert lines.returncode == 0 and lines.stdout.startswith("wrote ")
    said = lines.stderr.splitlines()
    assert said[0] == "bundle: 0% writing design.resnet.json" and said[-1] == "bundle: 100% done"
    assert all(re.fullmatch(r"bundle: \d+% [^\r]+", line) for line in said)


def test_bundle_takes_output_like_every_command_and_keeps_out(tmp_path: Path) -> None:
    for flag, folder in (("--output", "a"), ("--out", "b"), ("-o", "c")):
        done = cli("bundle", "resnet20_cifar", flag, folder, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / folder / "model.py").is_file()
    refused(cli("bundle", "resnet20_cifar", cwd=tmp_path), "-o/--output")


# --json everywhere a script may read ---------------------------------------------------


def test_lint_json() -> None:
    done = cli("lint", "resnet50", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    data = json.loads(done.stdout)
    layer4 = next(s for s in data["stages"] if s["name"] == "layer4")
    assert (layer4["receptive_field"], layer4["output_stride"], layer4["blocks"]) == (427, 32, 3)
    assert data["findings"] == [] and data["warnings"] == 0
    cifar = json.loads(cli("lint", "resnet20_cifar", "--json").stdout)
    assert cifar["notes"] == len(cifar["findings"]) > 0
    assert set(cifar["findings"][0]) == {"code", "severity", "field", "message", "fix"}
    strict = cli("lint", "resnet50", "--json", "--strict")
    assert strict.returncode == 0


def test_lint_json_strict_exit_code(tmp_path: Path) -> None:
    data = design_to_dict(load_preset("resnet18"))
    data["input"] = {"channels": 3, "height": 16, "width": 16}  # 1x1 by layer3: a warning
    path = tmp_path / "small.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    done = cli("lint", str(path), "--json", "--strict")
    assert done.returncode == 1 and done.stderr == ""
    assert json.loads(done.stdout)["warnings"] >= 1


def test_fit_json_and_its_failure_on_stderr(tmp_path: Path) -> None:
    done = cli("fit", "resnet50", "--max-macs", "2G", "--top", "2", "--json", "-o", str(tmp_path))
    assert (done.returncode, done.stderr) == (0, "")
    data = json.loads(done.stdout)
    assert data["budget"]["max_macs"] == 2_000_000_000 and len(data["candidates"]) == 2
    for c in data["candidates"]:
        assert c["macs"] <= 2e9 and c["binds"] == "macs" and Path(c["file"]).is_file()
    none = cli("fit", "resnet50", "--max-macs", "1k", "--json")
    assert none.returncode == 1 and json.loads(none.stdout)["candidates"] == []
    assert none.stderr.startswith("no scaling of this design meets the budget")
    plain = cli("fit", "resnet50", "--max-macs", "1k")
    assert (plain.returncode, plain.stdout) == (1, "")
    assert plain.stderr.count("\n") == 1 and "no scaling" in plain.stderr


@pytest.mark.slow
def test_fit_json_with_measured_latency() -> None:
    """--max-latency-ms keeps its behaviour (what it measures goes to stderr) and --json
    gives each candidate's measured latency."""
    first = cli("measure", "resnet20_cifar", "--device", "cpu", "--batch", "1", "--json")
    limit = 1.3 * json.loads(first.stdout)["latency"]["median_s"] * 1000
    done = cli(
        "fit",
        "resnet20_cifar",
        "--max-latency-ms",
        f"{limit:.3f}",
        "--device",
        "cpu",
        "--measure-top",
        "1",
        "--top",
        "1",
        "--json",
    )
    assert done.returncode in (0, 1), done.stderr
    assert "measuring ResNet-20 (CIFAR-10) itself" in done.stderr
    data = json.loads(done.stdout)
    assert data["budget"]["max_latency_ms"] == pytest.approx(limit, abs=1e-3)
    for candidate in data["candidates"]:
        assert candidate["latency_ms"] > 0 and "latency" in candidate["usage"]


def test_compare_json(tmp_path: Path) -> None:
    done = cli("compare", "resnet18", "resnet34", "--json", "--plot", str(tmp_path / "p.svg"))
    assert done.returncode == 0 and done.stderr == f"wrote {tmp_path / 'p.svg'}\n"
    data = json.loads(done.stdout)
    assert data["baseline"] == "resnet18"
    resnets = [TORCHVISION_COUNTS[name].params for name in ("resnet18", "resnet34")]
    assert [d["params"] for d in data["designs"]] == resnets
    assert [s["name"] for s in data["designs"][1]["stages"]][-1] == "head"


# summary formats and the per-layer geometry ----------------------------------------------


def test_summary_csv_is_the_json_layers() -> None:
    rows = list(csv.DictReader(io.StringIO(cli("summary", "resnet50", "--format", "csv").stdout)))
    layers = json.loads(cli("summary", "resnet50", "--json").stdout)["layers"]
    assert len(rows) == len(layers)
    for row, layer in zip(rows, layers, strict=True):
        assert row["layer"] == layer["name"] and int(row["macs"]) == layer["macs"]
        assert row["output"] == "x".join(map(str, layer["output_shape"]))
        rf = layer["receptive_field"]
        assert row["receptive_field"] == ("" if rf is None else str(rf))


def test_summary_markdown_and_latex_tables(tmp_path: Path) -> None:
    result = analyse(load_preset("seresnet50"))
    markdown = cli("summary", "seresnet50", "--format", "markdown").stdout
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Layer | Kind | Input | Output | Params | Mult-adds | RF | Stride |"
    assert len(rows) == 2 + len(result.layers) + 2 + 7  # head and rule, layers, the totals
    assert (
        "| layer4.2.bn3 | BatchNorm2d | 2048 x 7 x 7 | 2048 x 7 x 7 | 4,096 | 4,096 | 427 | 32 |"
        in rows
    )
    data = design_to_dict(load_preset("resnet18"))
    data["name"] = "Mine_1 & 50% {$x$} #2 \\ | `"
    path = tmp_path / "m.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    latex = cli("summary", str(path), "--format", "latex")
    assert latex.returncode == 0
    lines = latex.stdout.splitlines()
    assert lines[1:3] == [
        r"\begin{longtable}{llllrrrr}",
        r"\caption{Mine\_1 \& 50\% \{\$x\$\} \#2 \textbackslash{} | `: input 3 $\times$ 224"
        r" $\times$ 224} \\",
    ]
    assert lines[-1] == r"\end{longtable}"
    body = [line for line in lines if line.startswith(r"\texttt{")]
    assert len(body) == len(analyse(load_preset("resnet18")).layers)
    assert all(line.count(" & ") == 7 and line.endswith(r" \\") for line in body)
    assert r"\texttt{layer2.0.downsample.0} & Conv2d & 64$\times$56$\times$56" in latex.stdout
    md = cli("summary", str(path), "--format", "markdown").stdout
    assert md.splitlines()[0] == r"**Mine_1 & 50% {$x$} #2 \\ \| \`: input 3 x 224 x 224**"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex (TeX Live)")
def test_summary_latex_compiles(tmp_path: Path) -> None:
    data = design_to_dict(load_preset("seresnet50"))
    data["name"] = "Mine_1 & 50% {$x$} #2 \\ ~ ^ end"
    (tmp_path / "m.resnet.json").write_text(json.dumps(data), encoding="utf-8")
    table = cli("summary", "m.resnet.json", "--format", "latex", cwd=tmp_path)
    (tmp_path / "t.tex").write_text(table.stdout, encoding="utf-8")
    document = (
        "\\documentclass{article}\\usepackage{booktabs,longtable}"
        "\\usepackage[margin=1cm]{geometry}\\begin{document}\\tiny\\input{t.tex}\\end{document}"
    )
    (tmp_path / "doc.tex").write_text(document, encoding="utf-8")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")


def test_summary_format_and_json_are_one_choice() -> None:
    refused(cli("summary", "resnet18", "--json", "--format", "csv"), "--json")
    refused(cli("summary", "resnet18", "--format", "html"), "invalid choice")
    table = cli("summary", "resnet18").stdout
    assert "  RF  Stride" in table and "RF, stride: receptive field" in table


def test_layer_geometry_ends_each_stage_where_stage_figures_do() -> None:
    for name in preset_names():
        result = analyse(load_preset(name))
        geometry = layer_geometry(result)
        assert len(geometry) == len(result.layers)
        for s, figures in enumerate(stage_figures(result)[1:-1]):
            last = [b for b in result.blocks if b.stage == s][-1]
            main = [
                geometry[i]
                for i in range(last.first_layer, last.end_layer)
                if result.layers[i].role != "shortcut" and geometry[i] is not None
            ]
            assert main[-1] == (figures.receptive_field, figures.output_stride), (name, s)


RESNET18_LAYERS = (
    "conv1",
    "maxpool",
    "layer1.0.conv2",
    "layer2.0.conv1",
    "layer2.0.downsample.0",
    "layer2.1.conv2",
    "layer3.0.downsample.0",
    "layer3.1.conv1",
    "layer4.0.conv2",
)


def test_per_layer_receptive_field_and_stride_of_resnet18_are_measured() -> None:
    """Back-propagate from one output pixel of each layer to the input: the rows it
    touches are its receptive field, and the next pixel's shift is its output stride.

    As in test_lint_fit: positive conv weights and identity BNs keep every path's
    gradient non-zero; max-pools become average pools of the same geometry. The input
    is 1 channel, 480 rows (above layer4's 435-pixel field) and 64 columns.
    """
    torch = pytest.importorskip("torch")
    from torch import nn

    from designer.core.torch.build import build

    design = load_preset("resnet18").replace(input=InputSpec(1, 480, 64))
    result = analyse(design)
    expected = {
        layer.name: at
        for layer, at in zip(result.layers, layer_geometry(result), strict=True)
        if layer.name in RESNET18_LAYERS
    }
    model = build(design).eval()
    model.maxpool = nn.AvgPool2d(3, 2, 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
    outputs: dict[str, object] = {}
    for name in RESNET18_LAYERS:
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, key=name: outputs.__setitem__(key, out)
        )
    x = torch.ones(1, 1, 480, 64, requires_grad=True)
    model(x)
    measured = {}
    for name in RESNET18_LAYERS:
        out = outputs[name]
        row, col = out.shape[2] // 2, out.shape[3] // 2
        tops, field = [], 0
        for r in (row, row + 1):
            (grad,) = torch.autograd.grad(out[0, :, r, col].sum(), x, retain_graph=True)
            rows = grad[0].abs().sum(dim=(0, 2)).nonzero().flatten()
            tops.append(int(rows.min()))
            field = int(rows.max() - rows.min() + 1)
            assert rows.min() > 0 and rows.max() < 479, name  # not clipped by the border
        measured[name] = (field, tops[1] - tops[0])
    assert measured == expected
    assert expected["layer2.0.downsample.0"] == (43, 8)  # the block's input field, strided
    assert expected["layer4.0.conv2"] == (307, 32)


# plots, suggestions ----------------------------------------------------------------------


def test_writing_a_plot_leaves_matplotlibs_backend_alone(tmp_path: Path) -> None:
    code = (
        "import sys, matplotlib\n"
        "matplotlib.use('pdf')\n"
        "before = matplotlib.get_backend()\n"
        "from designer.core.compare import write_pareto\n"
        "from designer.core.presets import load_preset\n"
        "write_pareto(sys.argv[1], [('mine', load_preset('resnet20_cifar'))])\n"
        "write_pareto(sys.argv[2], [('mine', load_preset('resnet20_cifar'))])\n"
        "print(before, matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    png, svg = tmp_path / "p.png", tmp_path / "p.svg"
    done = subprocess.run(
        [sys.executable, "-c", code, str(png), str(svg)],
        capture_output=True,
        encoding="utf-8",
        cwd=ROOT,
        env=_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pdf", "pdf", "False"]
    assert png.read_bytes().startswith(b"\x89PNG") and b"<svg" in svg.read_bytes()


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [
        ("resnext50", "resnext50_32x4d"),
        ("resnet5", "resnet50"),
        ("resnet81", "resnet18"),
        ("seresnet", "seresnet50"),
        ("RESNET34", "resnet34"),
    ],
)
def test_did_you_mean_a_preset(spec: str, suggestion: str) -> None:
    refused(cli("summary", spec), f"did you mean '{suggestion}'?")


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("se", "se_ratio"),
        ("stme", "stem"),
        ("activaton", "activation"),
        ("drop_path", "drop_path_rate"),
    ],
)
def test_did_you_mean_a_key(key: str, suggestion: str, tmp_path: Path) -> None:
    data = design_to_dict(load_preset("resnet18"))
    data[key] = 1
    path = tmp_path / "typo.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    refused(cli("validate", str(path)), f"{key}: unknown key (did you mean '{suggestion}'?)")


def test_no_suggestion_for_a_word_like_no_key(tmp_path: Path) -> None:
    data = {**design_to_dict(load_preset("resnet18")), "zzz": 1}
    path = tmp_path / "typo.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    refused(cli("validate", str(path)), "zzz: unknown key (known keys: format, name")


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["sumary", "resnet18"], "summary"),
        (["summary", "resnet18", "--format", "mardown"], "markdown"),
        (["render", "resnet18", "-o", "-", "--format", "sgv"], "svg"),
    ],
)
def test_did_you_mean_a_command_or_choice(args: list[str], suggestion: str) -> None:
    refused(cli(*args), f"; did you mean '{suggestion}'? (see --help)")
