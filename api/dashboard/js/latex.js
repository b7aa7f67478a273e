// The LaTeX the service prints (space/_export_latex.py: operator templates, numbers, \beta_{k})
// as MathML, which Chromium and Firefox render natively: no font or script from a CDN.
// Only that subset is understood; anything else falls back to the plain expression text.

const MATHML_NS = "http://www.w3.org/1998/Math/MathML";

const GREEK = {
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η", theta: "θ",
  lambda: "λ", mu: "μ", nu: "ν", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", chi: "χ", psi: "ψ",
  omega: "ω", Gamma: "Γ", Delta: "Δ", Phi: "Φ", Omega: "Ω",
};
const FUNCTIONS = new Set(["sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "log", "ln",
  "exp", "max", "min", "erf", "sgn", "sign"]);
const SYMBOLS = { cdot: "⋅", times: "×", pm: "±", infty: "∞", le: "≤", ge: "≥", lvert: "|", rvert: "|",
  vert: "|", "|": "‖", "{": "{", "}": "}", lbrace: "{", rbrace: "}" };
const SPACES = { ",": "0.17em", ":": "0.22em", ";": "0.28em", quad: "1em", qquad: "2em", "!": "0em" };

function m(tag, ...children) {
  const el = document.createElementNS(MATHML_NS, tag);
  for (const child of children) el.append(typeof child === "string" ? document.createTextNode(child) : child);
  return el;
}

function tokenize(text) {
  const tokens = [];
  const pattern = /\s+|\\([A-Za-z]+|.)|(\d+(?:\.\d+)?|\.\d+)|([A-Za-z])|(.)/gsy;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    if (match[1] !== undefined) tokens.push({ kind: "cmd", value: match[1] });
    else if (match[2] !== undefined) tokens.push({ kind: "num", value: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: "letter", value: match[3] });
    else if (match[4] !== undefined) tokens.push({ kind: "char", value: match[4] });
  }
  return tokens;
}

class Parser {
  constructor(tokens) {
    this.tokens = tokens;
    this.i = 0;
  }

  peek() {
    return this.tokens[this.i];
  }

  next() {
    const token = this.tokens[this.i++];
    if (token === undefined) throw new Error("unexpected end of LaTeX");
    return token;
  }

  expectChar(value) {
    const token = this.next();
    if (token.kind !== "char" || token.value !== value) throw new Error(`expected ${value}`);
  }

  /** Atoms up to a closing brace, a \right or the end (none of them consumed). */
  sequence() {
    const items = [];
    for (let t = this.peek(); t !== undefined; t = this.peek()) {
      if ((t.kind === "char" && t.value === "}") || (t.kind === "cmd" && t.value === "right")) break;
      items.push(this.scripted());
    }
    return items;
  }

  row(items) {
    return items.length === 1 ? items[0] : m("mrow", ...items);
  }

  group() {
    this.expectChar("{");
    const items = this.sequence();
    this.expectChar("}");
    return this.row(items);
  }

  /** The argument of a command or script: a {group} or a single atom. */
  argument() {
    const t = this.peek();
    return t && t.kind === "char" && t.value === "{" ? this.group() : this.atom();
  }

  rawText() {
    this.expectChar("{");
    let text = "";
    for (let t = this.next(); !(t.kind === "char" && t.value === "}"); t = this.next()) text += t.value;
    return text;
  }

  delimiter() {
    const t = this.next();
    if (t.kind === "char") return t.value === "." ? "" : t.value;
    if (t.kind === "cmd" && t.value in SYMBOLS) return SYMBOLS[t.value];
    throw new Error(`unknown delimiter \\${t.value}`);
  }

  scripted() {
    let base = this.atom();
    for (let t = this.peek(); t && t.kind === "char" && (t.value === "^" || t.value === "_"); t = this.peek()) {
      this.next();
      const script = this.argument();
      if (t.value === "^") base = base.tagName === "msub" ? m("msubsup", ...base.childNodes, script) : m("msup", base, script);
      else base = m("msub", base, script);
    }
    return base;
  }

  atom() {
    const t = this.next();
    if (t.kind === "num") return m("mn", t.value);
    if (t.kind === "letter") return m("mi", t.value);
    if (t.kind === "char") {
      if (t.value === "{") {
        this.i--;
        return this.group();
      }
      return m("mo", t.value === "-" ? "−" : t.value);
    }
    return this.command(t.value);
  }

  command(name) {
    if (name === "frac") return m("mfrac", this.argument(), this.argument());
    if (name === "sqrt") return m("msqrt", this.argument());
    if (name === "left") {
      const open = this.delimiter();
      const inner = this.sequence();
      if (this.next().value !== "right") throw new Error("\\left without \\right");
      const close = this.delimiter();
      const fence = (text) => {
        const mo = m("mo", text);
        mo.setAttribute("fence", "true");
        return mo;
      };
      return m("mrow", ...(open ? [fence(open)] : []), ...inner, ...(close ? [fence(close)] : []));
    }
    if (name === "operatorname" || name === "mathrm" || name === "text") {
      const mi = m("mi", this.rawText());
      mi.setAttribute("mathvariant", "normal");
      return mi;
    }
    if (name in GREEK) return m("mi", GREEK[name]);
    if (FUNCTIONS.has(name)) {
      const mi = m("mi", name);
      mi.setAttribute("mathvariant", "normal");
      return mi;
    }
    if (name in SYMBOLS) return m("mo", SYMBOLS[name]);
    if (name in SPACES) {
      const space = m("mspace");
      space.setAttribute("width", SPACES[name]);
      return space;
    }
    throw new Error(`unknown command \\${name}`);
  }
}

/** A <math> element for `latex`, or a <code> with `fallback` when it is outside the subset. */
export function renderMath(latex, fallback = latex, { block = false } = {}) {
  try {
    const parser = new Parser(tokenize(latex || ""));
    const items = parser.sequence();
    if (parser.peek() !== undefined || !items.length) throw new Error("unbalanced LaTeX");
    const math = m("math", m("mrow", ...items));
    math.setAttribute("display", block ? "block" : "inline");
    if (fallback) math.setAttribute("aria-label", fallback);
    return math;
  } catch {
    const code = document.createElement("code");
    code.textContent = fallback || latex || "";
    return code;
  }
}

/** A Python format template of the operator table ("e^{{{0}}}") filled with LaTeX arguments. */
export function fillTemplate(template, args) {
  return template.replace(/\{\{|\}\}|\{(\w+)\}/g, (whole, key) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    return /^\d+$/.test(key) ? (args[Number(key)] ?? "x") : key;
  });
}
