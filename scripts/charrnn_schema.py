"""The metadata of char-rnn-webgpu checkpoints, checked against schema/checkpoint.schema.json:
the JSON Schema that src/schema.ts writes, read here with the jsonschema module (Debian:
python3-jsonschema). A problem is one sentence, the same as the TypeScript reader's:
"the run.chunk metadata -5 is not an integer >= 0".

safetensors metadata maps strings to strings; an entry whose schema has "storedAs": "json" holds
JSON text and its schema describes the decoded value. Each field that a message can name has
"expected", its values in words."""

import json
import math
import os

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema", "checkpoint.schema.json")
FORMAT_V1, FORMAT_V2 = "char-rnn-webgpu/1", "char-rnn-webgpu/2"
RUN_CONFIG_DEFAULTS = {"initScale": 0.1, "cell": "rnn", "layers": 1, "dropout": 0}
_REFINES = ("oneOf", "uniqueItems")  # what src/schema.ts checks with .refine(): only where nothing else failed


class SchemaMissing(Exception):
    pass


_document = None


def document():
    global _document
    if _document is None:
        try:
            import jsonschema  # noqa: F401
        except ImportError:
            raise SchemaMissing("the jsonschema module is missing: apt-get install python3-jsonschema (Debian), or pip install jsonschema")
        try:
            with open(SCHEMA_FILE, encoding="utf-8") as f:
                _document = json.load(f)
        except OSError as e:
            raise SchemaMissing(f"{os.path.normpath(SCHEMA_FILE)} cannot be read ({e.strerror}): keep scripts/ beside schema/, as in the repository")
    return _document


def loads(text):
    """JSON as JavaScript's JSON.parse reads it: no NaN or Infinity, no number beyond a double."""
    def refuse(token):
        raise ValueError(token)

    def finite(s):
        x = float(s)
        if not math.isfinite(x):
            raise ValueError(s)
        return x
    return json.loads(text, parse_constant=refuse, parse_float=finite)


def _compact(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _shown(v):
    s = _compact(v)
    return s[:57] + "..." if len(s) > 60 else s


def _name(path):
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else k) for i, k in enumerate(path))


def _child(node, k):
    if not isinstance(node, dict):
        return None
    if isinstance(k, str):
        props = node.get("properties", {})
        return props[k] if k in props else node.get("additionalProperties")
    pre = node.get("prefixItems")
    return pre[k] if pre is not None and k < len(pre) else node.get("items")


def _described(schema, path):
    """The nearest schema along `path` that says what it expects: how many steps down and what."""
    best, node = (0, schema.get("expected")), schema
    for i, k in enumerate(path):
        node = _child(node, k)
        if not isinstance(node, dict):
            break
        if "expected" in node:
            best = (i + 1, node["expected"])
    return best


def _order(schema, path):
    """Where a path comes in the schema's order (properties as declared, items by index)."""
    out, node = [], schema
    for k in path:
        props = list(node.get("properties", {})) if isinstance(node, dict) else []
        out.append(k if isinstance(k, int) else (props.index(k) if k in props else len(props)))
        node = _child(node, k)
    return out


def _value_at(x, path):
    for k in path:
        x = x[k] if isinstance(x, (dict, list)) and (k in x if isinstance(x, dict) else k < len(x)) else None
    return x


def _sentence(schema, kind, path, instance):
    if kind == "unexpected":
        return f"the {_name(path[:-1])} metadata has an unexpected field {path[-1]}"
    depth, expected = _described(schema, path)
    if expected is None:
        return f"the {_name(path)} metadata is wrong"
    at = path[:depth]
    parent = _value_at(instance, at[:-1])
    last = at[-1] if at else None
    missing = (isinstance(parent, dict) and last not in parent) or (isinstance(parent, list) and isinstance(last, int) and last >= len(parent))
    if missing:
        return (f"the metadata has no {last} entry (expected {expected})" if len(at) == 1
                else f"the {_name(at[:-1])} metadata has no {last} field (expected {expected})")
    return f"the {_name(at)} metadata {_shown(_value_at(instance, at))} is not {expected}"


def _first_problem(schema, instance):
    from jsonschema import Draft202012Validator
    found = []
    for e in Draft202012Validator(schema).iter_errors(instance):
        path, kind = list(e.absolute_path), "wrong"
        if e.validator == "required":
            path, kind = path + [next(k for k in e.validator_value if k not in e.instance)], "missing"
        elif e.validator == "additionalProperties":
            allowed = e.schema.get("properties", {})
            path, kind = path + [next(k for k in e.instance if k not in allowed)], "unexpected"
        found.append((path, kind, e.validator))
    # a refinement fails only where nothing inside it did
    found = [f for f in found if f[2] not in _REFINES or not any(g[0][:len(f[0])] == f[0] and len(g[0]) > len(f[0]) for g in found)]
    if not found:
        return None
    path, kind, _ = min(found, key=lambda f: (_order(schema, f[0]), f[2] in _REFINES))
    return _sentence(schema, kind, path, instance)


def read_metadata(raw, which):
    """Decodes (JSON entries) and validates a file's metadata against $defs[which] ("checkpoint"
    or "pytorch"): (the decoded metadata, None) or (None, the sentence of the first problem)."""
    schema = document()["$defs"][which]
    decoded = dict(raw)
    for k, sub in schema["properties"].items():
        if k in raw and sub.get("storedAs") == "json":
            try:
                decoded[k] = loads(raw[k])
            except ValueError:
                return None, f"the {k} metadata {_shown(raw[k])} is not {sub['expected']} (it is not valid JSON)"
    problem = _first_problem(schema, decoded)
    return (None, problem) if problem else (decoded, None)


def read_entry(text, key, which):
    """One JSON entry, e.g. config against $defs.runConfig: (value, None) or (None, sentence)."""
    schema = document()["$defs"][which]
    try:
        value = loads(text)
    except ValueError:
        return None, f"the {key} metadata {_shown(text)} is not {schema['expected']} (it is not valid JSON)"
    problem = _first_problem({"type": "object", "properties": {key: schema}}, {key: value})
    return (None, problem) if problem else (value, None)


def checkpoint_problem(m):
    """What our checkpoint's metadata says across entries (src/schema.ts checkpointMetadataProblem)."""
    v1 = m["format"] == FORMAT_V1
    props = document()["$defs"]["checkpoint"]["properties"]
    model = {"cell": "rnn", "layers": 1} if v1 else {"cell": m.get("cell"), "layers": m.get("layers")}
    for k in ("cell", "layers"):
        if not v1 and k not in m:
            return f"the metadata has no {k} entry (expected {props[k]['expected']}); a {FORMAT_V2} file names its model"
    for k in ("cell", "layers", "dropout"):
        if v1 and k in m:
            return f"the metadata has a {k} entry, which a {FORMAT_V1} file (the one-layer rnn) does not have"
    if "vocab_size" in m and m["vocab_size"] != len(m["vocab"]):
        return f"the metadata says vocab_size {_compact(m['vocab_size'])} but the vocab lists {len(m['vocab'])} characters"
    run, c = m.get("run", {}), m.get("config", {})
    checks = [("run.H", run.get("H"), m["hidden"], "the hidden metadata")]
    if "step" in m:
        checks.append(("run.step", run.get("step"), m["step"], "the step metadata"))
    checks.append(("config.hidden", c.get("hidden"), m["hidden"], "the hidden metadata"))
    if "config" in m:
        checks += [("config.cell", c.get("cell", "rnn"), model["cell"], "the cell of the file"),
                   ("config.layers", c.get("layers", 1), model["layers"], "the layer count of the file")]
    for what, a, b, than in checks:
        if a is not None and a != b:
            return f"the {what} metadata {_shown(a)} does not match {than} {_shown(b)}"
    if "minLr" in c and "lr" in c and c["minLr"] > c["lr"]:
        return f"the config.minLr metadata {_compact(c['minLr'])} is above the config.lr metadata {_compact(c['lr'])}"
    return None
