"""The generated model.py: golden text, exact round trip with build(), ruff, injection safety.

Regenerate the golden files after an intended change of the generator with
``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/core/test_codegen.py`` and
review the diff by eye before committing it.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torchinfo
from hypothesis import HealthCheck, given, settings

from designer.core.analysis import analyse
from designer.core.codegen import render_model_py
from designer.core.codegen.naming import display_width
from designer.core.design import Design, HeadSpec, StemSpec
from designer.core.io import loads
from designer.core.presets import load_preset, preset_names
from designer.core.torch.build import build
from tests.core.test_presets_reference import ZOO_VARIANTS
from tests.reference import torchvision_models
from tests.reference_figures import (
    PAPER_MILLIONS,
    PREACT_RESNET1001_PARAMS,
    RESNET20_CIFAR_PARAMS,
    TORCHVISION_COUNTS,
)
from tests.strategies import small_designs

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
RUFF = Path(sys.executable).parent / "ruff"
_counter = itertools.count()

# big enough that building them on the CPU would slow the suite: checked on ``meta``
DEEP = {"resnet1202_cifar", "preact_resnet1001_cifar"}
LARGE = DEEP | {n for n in preset_names() if analyse(load_preset(n)).params > 15_000_000}


def se_deep_design() -> Design:
    """The options no preset uses: squeeze-excite, deep stem, avg-down shortcuts, SiLU."""
    return load_preset("resnet50").replace(
        name="SE-ResNet-D 26 (SiLU)",
        stages=load_preset("resnet50").stages[:2],
        stem=StemSpec("deep", 32),
        shortcut="avg_down",
        activation="silu",
        se_ratio=0.25,
        zero_init_residual=True,
        head=HeadSpec(hidden=(256,), dropout=0.2),
        num_classes=100,
    )


GOLDEN_CASES = {
    "resnet18": lambda: load_preset("resnet18"),
    "resnet50": lambda: load_preset("resnet50"),
    "resnet20_cifar": lambda: load_preset("resnet20_cifar"),
    "resnetv2_builder": lambda: load_preset("resnetv2_builder"),
    "se_resnet_d_silu": se_deep_design,
}


def load_module(source: str, tmp_path: Path) -> ModuleType:
    """Import generated source as a fresh module (a new name every time)."""
    name = f"generated_model_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeded(factory, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return factory().eval()


def assert_same_network(design: Design, module: ModuleType, seed: int = 0) -> None:
    ours = seeded(lambda: build(design), seed)
    theirs = seeded(module.build_model, seed)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    x = torch.randn(2, design.input.channels, design.input.height, design.input.width)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


# --- golden files -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_model_py(case: str, tmp_path: Path) -> None:
    text = render_model_py(GOLDEN_CASES[case]())
    path = GOLDEN / f"{case}.py"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file: run with UPDATE_GOLDEN=1 to create {path}"
    assert text == path.read_text(encoding="utf-8")
    # the golden text only repeats the generator: the figures it states are checked by
    # torchinfo on the generated network, and against torchvision and the paper where
    # they have the network
    module = load_module(text, tmp_path)
    params, macs = _stated_counts(text)
    with torch.device("meta"):
        model = module.build_model()
    shape = (1, module.IN_CHANNELS, *module.INPUT_SIZE)
    stats = torchinfo.summary(model, input_size=shape, device="meta", verbose=0)
    assert (params, macs) == (stats.total_params, stats.total_mult_adds)
    assert params == module.EXPECTED_PARAMETERS
    if case in TORCHVISION_COUNTS:
        assert (params, macs) == TORCHVISION_COUNTS[case]
    if case == "resnet20_cifar":
        assert params == RESNET20_CIFAR_PARAMS


def _stated_counts(text: str) -> tuple[int, int]:
    """The parameters and mult-adds a generated module's docstring states."""
    params = re.search(r"^Parameters: +([\d,]+)$", text, re.MULTILINE)
    macs = re.search(r"^Multiply-adds: +([\d,]+) \(torchinfo's count", text, re.MULTILINE)
    assert params and macs, "the docstring states no counts"
    return int(params[1].replace(",", "")), int(macs[1].replace(",", ""))


def test_generation_is_deterministic() -> None:
    design = se_deep_design()
    assert render_model_py(design) == render_model_py(design)


def test_generated_files_are_ruff_clean(tmp_path: Path) -> None:
    if not RUFF.exists():
        pytest.skip("ruff is not installed beside this Python")
    designs = {name: GOLDEN_CASES[name]() for name in GOLDEN_CASES}
    designs["resnext50_32x4d"] = load_preset("resnext50_32x4d")
    designs["preact_resnet164_cifar"] = load_preset("preact_resnet164_cifar")
    designs["hostile"] = load_preset("resnet20_cifar").replace(name=HOSTILE_NAMES[0])
    designs["wide_name"] = load_preset("resnet20_cifar").replace(name="網" * 150)
    designs["se_divisible"] = load_preset("resnet18").replace(se_ratio=1 / 16, se_divisor=8)
    designs["tiered_stem"] = load_preset("resnet50").replace(
        stem=StemSpec("deep_tiered", 64), shortcut="avg_down"
    )
    for name, design in designs.items():
        (tmp_path / f"{name}.py").write_text(render_model_py(design), encoding="utf-8")
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    check = subprocess.run(
        [str(RUFF), "check", *config, str(tmp_path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [str(RUFF), "format", "--check", "--diff", *config, str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


# --- exactness --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in preset_names() if n not in LARGE])
def test_round_trip_small_presets(name: str, tmp_path: Path) -> None:
    design = load_preset(name)
    assert_same_network(design, load_module(render_model_py(design), tmp_path))


@pytest.mark.parametrize("name", sorted(LARGE))
def test_round_trip_large_presets_on_meta(name: str, tmp_path: Path) -> None:
    design = load_preset(name)
    module = load_module(render_model_py(design), tmp_path)
    with torch.device("meta"):
        generated = module.build_model()
    expected = build(design, device="meta")
    shapes = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in generated.state_dict().items()} == shapes
    assert list(generated.state_dict()) == list(shapes)
    count = sum(p.numel() for p in generated.parameters())
    assert count == analyse(design).params == module.EXPECTED_PARAMETERS
    _assert_outside_count(name, count)


def _assert_outside_count(name: str, count: int) -> None:
    """The count against the preset's reference: torchvision's or timm's network on meta,
    else the paper's figure (rounded as printed)."""
    if name in TORCHVISION_COUNTS:
        assert count == TORCHVISION_COUNTS[name].params
    elif name in ZOO_VARIANTS:
        with torch.device("meta"):
            reference = ZOO_VARIANTS[name]()
        assert count == sum(p.numel() for p in reference.parameters())
    elif name == "preact_resnet1001_cifar":
        assert count == PREACT_RESNET1001_PARAMS
    else:
        assert name in PAPER_MILLIONS, f"{name}: no outside figure to check the count against"
        digits = 2 if PAPER_MILLIONS[name] < 1 else 1
        assert round(count / 1e6, digits) == PAPER_MILLIONS[name]


def test_round_trip_se_deep_design(tmp_path: Path) -> None:
    design = se_deep_design().replace(input=load_preset("resnet20_cifar").input)
    assert_same_network(design, load_module(render_model_py(design), tmp_path), seed=7)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(design=small_designs())
def test_round_trip_random_designs(design: Design, tmp_path: Path) -> None:
    assert_same_network(design, load_module(render_model_py(design), tmp_path), seed=3)


@pytest.mark.parametrize("name", ["resnet50", "resnext50_32x4d"])
def test_torchvision_weights_load_strictly(name: str, tmp_path: Path) -> None:
    module = load_module(render_model_py(load_preset(name)), tmp_path)
    with torch.device("meta"):
        reference = getattr(torchvision_models(), name)(weights=None)
        generated = module.build_model()
    assert list(generated.state_dict()) == list(reference.state_dict())
    generated.load_state_dict(reference.state_dict(), strict=True, assign=True)


def test_embedded_design_reopens(tmp_path: Path) -> None:
    design = se_deep_design()
    module = load_module(render_model_py(design), tmp_path)
    assert loads(module.DESIGN_JSON) == design


def test_self_check_runs(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text(render_model_py(load_preset("resnet20_cifar")), encoding="utf-8")
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "output shape: (1, 10)" in run.stdout
    count = int(run.stdout.split("parameters: ")[1].split()[0].replace(",", ""))
    assert round(count / 1e6, 2) == PAPER_MILLIONS["resnet20_cifar"]


def test_channels_last_and_autocast(tmp_path: Path) -> None:
    design = se_deep_design().replace(input=load_preset("resnet20_cifar").input)
    model = seeded(load_module(render_model_py(design), tmp_path).build_model)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        assert torch.allclose(model(x.to(memory_format=torch.channels_last)), expected, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert model(x).shape == expected.shape


def test_forward_captures_as_one_graph(tmp_path: Path) -> None:
    """torch.compile with fullgraph=True fails on any graph break in forward.

    The aot_eager backend traces exactly as inductor does but skips C++ code
    generation, which takes ~40 s here and tests torch rather than our code.
    """
    cifar = load_preset("resnet20_cifar")
    design = se_deep_design().replace(input=cifar.input, stages=cifar.stages[:1])
    model = seeded(load_module(render_model_py(design), tmp_path).build_model)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
        assert torch.allclose(compiled(x), expected, atol=1e-5)


# --- injection safety -------------------------------------------------------------------------

HOSTILE_NAMES = [
    '"""; import os; os.system("x") #',
    'ends with a quote"',
    "ends with a backslash\\",
    "line one\nimport os\nos.system('x')",
    "nul\x00byte",
    "separator\u2028import os\u2029os.system('x')",
    "carriage\rreturn\x0bvtab\x0cfeed\x85nel",
    "'''; __import__('os').system('x'); '''",
    '\\""" + __import__(\'os\').getcwd() + """',
    "x" * 200,
    "ö" * 60 + " 網" * 40,
]

ALLOWED_IMPORTS = {"typing", "torch", "torch.nn.functional"}


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name):
                names.add(func.id)
    return names


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_cannot_inject_code(name: str, tmp_path: Path) -> None:
    base = load_preset("resnet20_cifar")
    safe = render_model_py(base)
    text = render_model_py(base.replace(name=name))
    tree = ast.parse(text)
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    assert modules <= ALLOWED_IMPORTS
    # the same code as for a harmless name: only the docstring and the DESIGN_JSON text differ
    assert ast.dump(_strip_texts(tree)) == ast.dump(_strip_texts(ast.parse(safe)))
    assert _calls(tree) == _calls(ast.parse(safe))
    assert "\u2028" not in text and "\x00" not in text and "\r" not in text
    assert max(display_width(line) for line in text.splitlines()) <= 100
    module = load_module(text, tmp_path)
    assert loads(module.DESIGN_JSON).name == name
    assert module.__doc__.splitlines()[0].count("\n") == 0


def _strip_texts(tree: ast.Module) -> ast.Module:
    """The module with its docstring and DESIGN_JSON emptied (the only places names go)."""
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        docstring = tree.body[0].value  # type: ignore[attr-defined]
        if is_text and (node is docstring or _is_design_json(tree, node)):
            node.value = ""
    return tree


def _is_design_json(tree: ast.Module, constant: ast.Constant) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DESIGN_JSON" for t in stmt.targets
        ):
            return stmt.value is constant
    return False
