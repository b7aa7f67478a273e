"""Code export: every target computes what was trained, reads well and is byte-stable."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from space import (
    OPERATORS,
    X,
    call,
    canonical,
    compile_function,
    compile_module,
    parse,
    to_sympy,
)
from space._export import EXPORT_FORMATS, export
from space._export_jax import jax_source
from space._export_latex import latex_canonical, to_latex
from space._export_numpy import numpy_source
from space._export_sympy import sympy_source
from space._torch import function_source, torch_source

EXPRESSIONS = [
    "x*sigmoid(beta*x)",
    "max(x, 0)",
    "x/(cos(x)+2) + beta1*x",
    "gauss_diff(x, sin(x))",
    "log(1+exp(x))",
    "x^5 - x",
    "0.5*x*(1+erf(x/sqrt(2)))",
    "sinc(x)+x",
    "beta_mix(x, tanh(x))",
    "min(x, sin(x))",
]
# Guarded helpers and operators the list above does not reach.
EXTRA = ["gelu(x) + elu(x) + selu(x)", "sqrt(x) * log(x) - exp(x) / x", "3"]
CHANNELS = 3
EDGES = [-1e4, -1e3, -50.0, -3.0, -1.0, -1e-4, 0.0, 1e-4, 0.5, 2.0, 7.0, 1e4]


def _import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(str(node.module))
    return names


def _param_values(expr_text: str) -> dict[str, np.ndarray]:
    """Per-channel values around each parameter's init, so broadcasting is exercised."""
    inits = parse(expr_text).param_inits()
    return {name: init + 0.1 * (np.arange(CHANNELS) - 1.0) for name, init in inits.items()}


# -- torch: the exported module file, imported in a fresh process, equals compile_module


def _probe(act: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Values and gradients (input and parameters) of ``act`` on 2-D and 4-D inputs.

    Runs both here and, as source text, in a fresh interpreter: keep it self-contained.
    """
    import torch

    base = torch.tensor([-1e4, -1e3, -50.0, -3.0, -1.0, -1e-4, 0.0, 1e-4, 0.5, 2.0, 7.0, 1e4])
    with torch.no_grad():
        for name, value in params.items():
            getattr(act, name).copy_(torch.as_tensor(value))
    out = {}
    for label, x in (("2d", base.reshape(4, 3)), ("4d", base.repeat(2).reshape(2, 3, 2, 2))):
        act.zero_grad()
        x = x.clone().requires_grad_()
        y = act(x)
        weights = torch.linspace(-1.0, 1.0, y.numel()).reshape(y.shape)
        if y.requires_grad:  # a constant function has no gradient at all
            (y * weights).sum().backward()
        out[f"{label}/y"] = y.detach()
        out[f"{label}/dx"] = torch.zeros_like(x) if x.grad is None else x.grad
        for name, p in act.named_parameters():
            out[f"{label}/d{name}"] = p.grad.clone()
    return out


_SUBPROCESS_MAIN = """
import importlib.util, json, sys
import torch

jobs = json.loads(open(sys.argv[1]).read())
for job in jobs:
    spec = importlib.util.spec_from_file_location("exported", job["module"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    act = module.Activation(num_channels=job["channels"])
    torch.save(_probe(act, job["params"]), job["out"])
"""


@pytest.fixture(scope="module")
def torch_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, torch.Tensor]]:
    """Runs every exported torch module in one fresh interpreter; results per expression."""
    root = tmp_path_factory.mktemp("torch_export")
    jobs: list[dict[str, Any]] = []
    for i, text in enumerate(EXPRESSIONS + EXTRA):
        module_path = root / f"act_{i}.py"
        module_path.write_text(torch_source(parse(text)))
        params = {k: v.tolist() for k, v in _param_values(text).items()}
        out = str(root / f"out_{i}.pt")
        jobs.append({"module": str(module_path), "out": out, "params": params, "channels": CHANNELS})
    script = root / "run.py"
    script.write_text("from __future__ import annotations\n" + inspect.getsource(_probe) + _SUBPROCESS_MAIN)
    (root / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run([sys.executable, str(script), "jobs.json"], check=True, cwd=root, timeout=300)
    return {text: torch.load(job["out"]) for text, job in zip(EXPRESSIONS + EXTRA, jobs, strict=True)}


@pytest.mark.parametrize("text", EXPRESSIONS + EXTRA)
def test_torch_module_file_matches_compiled_module_in_a_fresh_process(
    text: str, torch_results: dict[str, dict[str, torch.Tensor]]
) -> None:
    params = {k: v.tolist() for k, v in _param_values(text).items()}
    expected = _probe(compile_module(parse(text), num_channels=CHANNELS), params)
    got = torch_results[text]
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.isfinite(value).all(), key
        torch.testing.assert_close(got[key], value, rtol=1e-6, atol=0.0, msg=key)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_torch_exports_import_only_torch_and_math(text: str) -> None:
    assert _imports(torch_source(parse(text))) <= {"math", "torch"}
    assert export(parse(text), "torch") == torch_source(parse(text))
    assert export(parse(text), "function") == function_source(parse(text))


# -- NumPy and JAX: the same guarded function as the compiled torch one, in float64

GRID = np.concatenate([np.array(EDGES), np.linspace(-1e4, 1e4, 4001), np.linspace(-6, 6, 1201)])


def _operator_cases() -> list[str]:
    """Every operator once, on operands that reach its kinks, guards and extremes."""
    cases = []
    for name, op in OPERATORS.items():
        if not op.in_tree:
            continue
        args = [X] if op.arity == 1 else [X, call("sin", X)]
        expr = call(name, *args, exponent=5 if name == "powi" else None)
        cases.append(str(expr))
    return cases


def _torch_reference(text: str, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    fn = compile_function(parse(text))
    values = {k: torch.from_numpy(v).double() for k, v in params.items()}
    return fn(torch.from_numpy(x).double(), **values).numpy()


def _per_point(text: str) -> dict[str, np.ndarray]:
    """One parameter value per grid point: the channel values, cycled."""
    return {k: np.resize(v, GRID.shape) for k, v in _param_values(text).items()}


@pytest.fixture
def numpy_module(tmp_path: Path) -> Any:
    def load(text: str) -> ModuleType:
        source = numpy_source(parse(text))
        assert _imports(source) <= {"math", "numpy"}
        path = tmp_path / "act_numpy.py"
        path.write_text(source)
        return _import_file(path)

    return load


@pytest.mark.parametrize("text", EXPRESSIONS + EXTRA)
def test_numpy_export_is_finite_and_keeps_float32(text: str, numpy_module: Any) -> None:
    module = numpy_module(text)
    # the guards keep every intermediate finite on [-1e4, 1e4] (underflow to 0 is fine)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        got = module.activation(GRID, **_per_point(text))
        assert got.shape == GRID.shape and np.isfinite(got).all()
        # parameters default to their inits; float32 stays float32
        assert module.activation(GRID.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("text", EXPRESSIONS + EXTRA + _operator_cases())
def test_numpy_export_matches_torch_in_float64(text: str, numpy_module: Any) -> None:
    params = _per_point(text)
    got = numpy_module(text).activation(GRID, **params)
    expected = _torch_reference(text, GRID, params)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.fixture
def jax_module(tmp_path: Path) -> Any:
    pytest.importorskip("jax")

    def load(text: str) -> ModuleType:
        source = jax_source(parse(text))
        assert _imports(source) <= {"math", "jax.numpy", "jax.scipy.special"}
        path = tmp_path / "act_jax.py"
        path.write_text(source)
        return _import_file(path)

    return load


@pytest.mark.parametrize("text", EXPRESSIONS + EXTRA + _operator_cases())
def test_jax_export_matches_torch_in_float64(text: str, jax_module: Any) -> None:
    import jax

    params = _per_point(text)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(jax_module(text).activation)(GRID, **params))
    expected = _torch_reference(text, GRID, params)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_division_guard_matches_torch_in_float64(numpy_module: Any) -> None:
    x = np.array([-1e-4, 0.0, 1e-4, 5e-4])
    expected = _torch_reference("x / sin(x)", x, {})
    np.testing.assert_allclose(numpy_module("x / sin(x)").activation(x), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("text", EXPRESSIONS + EXTRA)
def test_jax_export_is_jittable_with_finite_gradients(text: str, dtype: str, jax_module: Any) -> None:
    import jax

    module = jax_module(text)
    params = _per_point(text)
    names = list(params)

    def total(x: Any, *values: Any) -> Any:
        return module.activation(x, **dict(zip(names, values, strict=True))).sum()

    grad = jax.jit(jax.grad(total, argnums=tuple(range(1 + len(names)))))
    with jax.enable_x64(dtype == "float64"):
        x = GRID.astype(dtype)
        values = [v.astype(dtype) for v in params.values()]
        assert np.isfinite(np.asarray(jax.jit(module.activation)(x))).all()
        for g in grad(x, *values):  # w.r.t. the input and every parameter
            assert np.asarray(g).dtype == dtype and np.isfinite(np.asarray(g)).all()


# -- LaTeX and sympy

LATEX_TOKENS = {
    "x*sigmoid(beta*x)": ["x \\sigma\\left(\\beta x\\right)"],
    "max(x, 0)": ["\\max\\left(x, 0\\right)"],
    "x/(cos(x)+2) + beta1*x": ["\\frac{x}{\\cos\\left(x\\right) + 2}", "\\beta_{1} x"],
    "gauss_diff(x, sin(x))": ["e^{-\\beta \\left(x - \\sin\\left(x\\right)\\right)^{2}}"],
    "log(1+exp(x))": ["\\operatorname{softplus}\\left(x\\right)"],
    "x^5 - x": ["x^{5} - x"],
    "0.5*x*(1+erf(x/sqrt(2)))": ["0.5 x \\left(1 + \\operatorname{erf}"],
    "sinc(x)+x": ["\\operatorname{sinc}\\left(x\\right) + x"],
    "beta_mix(x, tanh(x))": ["\\beta x + \\left(1 - \\beta\\right) \\tanh\\left(x\\right)"],
    "min(x, sin(x))": ["\\min\\left(x, \\sin\\left(x\\right)\\right)"],
}


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and text.count("\\left") == text.count("\\right")


@pytest.mark.parametrize(("text", "tokens"), LATEX_TOKENS.items())
def test_latex_is_readable_and_balanced(text: str, tokens: list[str]) -> None:
    latex = export(parse(text), "latex")
    assert latex == to_latex(parse(text))
    for token in tokens:
        assert token in latex
    assert _balanced(latex) and _balanced(latex_canonical(parse(text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x * -x", "x \\left(-x\\right)"),
        ("-x * x", "-x x"),
        ("x - (x + 1)", "x - \\left(x + 1\\right)"),
        ("(x + 1) * (x - 1)", "\\left(x + 1\\right) \\left(x - 1\\right)"),
        ("x * 2", "x \\cdot 2"),
        ("gauss(x)", "e^{-x^{2}}"),
        ("sin(x)^2", "\\left(\\sin\\left(x\\right)\\right)^{2}"),
        ("beta_mul(x + 1, beta2)", "\\beta_{2} \\left(x + 1\\right)"),
        ("x * 1e-5", "x \\cdot 10^{-5}"),
    ],
)
def test_latex_parentheses(text: str, expected: str) -> None:
    assert to_latex(parse(text)) == expected


@pytest.mark.parametrize("text", EXPRESSIONS + EXTRA + ["hardsigmoid(x)", "x * 1e-5 + 0.1 * x"])
def test_sympy_export_rebuilds_the_sympy_form(text: str) -> None:
    source = sympy_source(parse(text))
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # our own generated text, not user input
    assert namespace["f"] == to_sympy(parse(text))
    assert namespace["canonical"] == canonical(parse(text))


# -- determinism and errors

_EXPORT_ALL = """
import json, sys
from space import parse
from space._export import EXPORT_FORMATS, export
print(json.dumps({t: {f: export(parse(t), f) for f in EXPORT_FORMATS} for t in sys.argv[1:]}))
"""


def test_exports_are_byte_identical_across_processes() -> None:
    texts = EXPRESSIONS + EXTRA
    here = {t: {f: export(parse(t), f) for f in EXPORT_FORMATS} for t in texts}
    root = Path(__file__).resolve().parents[2]
    for seed in ("0", "12345"):  # different hash seeds: set and dict order must not leak
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _EXPORT_ALL, *texts],
            check=True,
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            timeout=300,
        )
        assert json.loads(done.stdout) == here
    assert export(parse(texts[0]), "numpy") == export(parse(texts[0]), "numpy")


def test_docstrings_give_expression_and_canonical_form() -> None:
    expr = parse("x*sigmoid(beta*x)")
    for fmt in ("torch", "numpy", "jax"):
        doc = ast.get_docstring(ast.parse(export(expr, fmt)))
        assert doc is not None
        assert "x * sigmoid(beta * x)" in doc and "x*exp(beta*x)/(exp(beta*x) + 1)" in doc


def test_bad_format_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown export format 'onnx'") as info:
        export(parse("x"), "onnx")
    for fmt in EXPORT_FORMATS:
        assert fmt in str(info.value)
