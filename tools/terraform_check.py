"""What `terraform validate` would check in terraform/, offline (the google provider cannot be
downloaded here, so `terraform init` cannot run):

- every reference resolves: resources, data sources, variables, locals and modules, in every
  expression and in `depends_on`; `each` only under `for_each`, `count.index` only under `count`;
  an attribute read from a resource or data source exists in its schema;
- every argument and nested block of every resource, data source and the provider block exists
  in the provider's schema, as an argument or as a block as the schema has it, with a value of a
  fitting type, and no required one is missing.

The schema is the jsii assembly (`package/.jsii`, about 100 MB of JSON) of the npm package
@cdktf/provider-google, generated from the google provider; each property's docs link ends in
its Terraform name, struct types are nested blocks. `fetch` (run by scripts/setup.sh) downloads
the pinned version with npm, checks its integrity, and writes the reduced schema the checks read.

    python -m tools.terraform_check fetch
    python -m tools.terraform_check [DIRECTORY]    # default terraform/; exit 1 on any problem
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF_DIR = os.path.join(ROOT, "terraform")
PACKAGE = "@cdktf/provider-google"
VERSION = "16.12.1"  # generated from hashicorp/google 6.50.0
INTEGRITY = "sha512-KqNA/5RiFT07r0PSZ6/07cJ2zESUgbj1JchVj21iBFBZVUbD+578xA/k8eq/r0cbyEgLmg9eYWeVslaYah4DCQ=="
CACHE_DIR = os.path.join(ROOT, ".cache", "provider-schema")
TARBALL = os.path.join(CACHE_DIR, f"cdktf-provider-google-{VERSION}.tgz")
SCHEMA = os.path.join(CACHE_DIR, f"google-schema-{VERSION}.json")

# Arguments and blocks Terraform itself gives every resource (and data source); not in the schema.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
LIFECYCLE = {
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
}
# Roots of references that are not declared in the configuration.
BUILTIN_ROOTS = {"path", "terraform", "self"}


class SchemaUnavailable(Exception):
    """The provider schema is neither cached nor fetchable (no npm, no network)."""


# --- the provider schema --------------------------------------------------------------------------


def _integrity(path: str) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def verify(path: str, integrity: str = INTEGRITY) -> str:
    """`path` if its sha512 is the pinned one; otherwise it is deleted and refused."""
    found = _integrity(path)
    if found != integrity:
        os.remove(path)
        raise SchemaUnavailable(f"{os.path.basename(path)}: integrity {found} is not the pinned {integrity}")
    return path


def fetch() -> str:
    """The verified tarball, downloaded with npm (from its cache when it has it) unless already here."""
    if os.path.exists(TARBALL) and _integrity(TARBALL) == INTEGRITY:
        return TARBALL
    npm = shutil.which("npm")
    if not npm:
        raise SchemaUnavailable(f"npm is not installed: cannot fetch {PACKAGE}@{VERSION}")
    os.makedirs(CACHE_DIR, exist_ok=True)
    run = subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", CACHE_DIR, f"{PACKAGE}@{VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0 or not os.path.exists(TARBALL):
        raise SchemaUnavailable(f"npm pack {PACKAGE}@{VERSION} failed: {run.stderr.strip()[-500:]}")
    return verify(TARBALL)


def _tf_name(prop: dict) -> str:
    """A property's Terraform name: the anchor of its registry link (`...#name Class#name`), or,
    for the few without a link, its jsii name in snake case."""
    match = re.search(r"registry\.terraform\.io/\S*#(\w+) ", json.dumps(prop.get("docs", {})))
    return match.group(1) if match else _camel_to_snake(prop["name"])


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def reduce_assembly(assembly: dict) -> dict:
    """The part of a jsii assembly the checks need:
    {"provider": block, "resource": {type: block}, "data": {type: block}, "blocks": {id: block}},
    where a block is {"arguments": {name: spec}, "attributes": [every readable name]} and a spec is
    {"type": "string" | "number" | "bool" | ["list", spec type] | ["map", spec type],
     "required": bool} or, for a nested block, {"block": id, "nesting": "single" | "list", "required": bool}."""
    types = assembly["types"]
    blocks: dict[str, dict] = {}

    def value_type(ref: dict):
        if "primitive" in ref:
            return {"boolean": "bool"}.get(ref["primitive"], ref["primitive"])
        if "collection" in ref:
            return [
                {"array": "list"}.get(ref["collection"]["kind"], ref["collection"]["kind"]),
                value_type(ref["collection"]["elementtype"]),
            ]
        if "union" in ref:
            kinds = [value_type(t) for t in ref["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
            return kinds[0] if len(kinds) == 1 else "any"
        return "any"

    def struct_of(ref: dict) -> tuple[str, str] | None:
        """(struct fqn, nesting) when the property is a nested block."""
        for option in ref.get("union", {}).get("types", [ref]):
            if option.get("fqn", "").startswith(PACKAGE + "."):
                return option["fqn"], "single"
            element = option.get("collection", {}).get("elementtype", {})
            if element.get("fqn", "").startswith(PACKAGE + "."):
                return element["fqn"], "list"
        return None

    def properties(fqn: str) -> list[dict]:
        found = list(types[fqn].get("properties", []))
        for parent in types[fqn].get("interfaces", []):
            if parent.startswith(PACKAGE + "."):
                found += properties(parent)
        return found

    def block(fqn: str, readable: list[str] | None = None) -> str:
        if fqn not in blocks:
            blocks[fqn] = {}
            arguments = {}
            for prop in properties(fqn):
                spec = {"required": not prop.get("optional", False)}
                struct = struct_of(prop["type"])
                if struct:
                    spec.update(block=block(struct[0]), nesting=struct[1])
                else:
                    spec["type"] = value_type(prop["type"])
                arguments[_tf_name(prop)] = spec
            blocks[fqn] = {"arguments": arguments, "attributes": sorted(set(arguments) | set(readable or []))}
        return fqn

    reduced: dict = {"source": f"{PACKAGE}@{VERSION}", "resource": {}, "data": {}, "provider": None, "blocks": blocks}
    link = re.compile(
        r"Represents a \{@link https://registry\.terraform\.io/providers/hashicorp/google/[\d.]+/docs"
        r"(?:/(resources|data-sources)/\w+)? (\w+)\}"
    )
    for _fqn, kind in types.items():
        match = link.match(kind.get("docs", {}).get("summary", "")) if kind["kind"] == "class" else None
        if not match:
            continue
        config = kind["initializer"]["parameters"][2]["type"]["fqn"]
        # What a reference can read: every property of the class (config and computed ones).
        readable = [_camel_to_snake(p["name"]) for p in kind.get("properties", []) if not p.get("static")]
        readable = [name for name in readable if not name.endswith("_input")]
        if match.group(1) is None:
            reduced["provider"] = block(config)
        else:
            reduced["resource" if match.group(1) == "resources" else "data"][match.group(2)] = block(config, readable)
    return reduced


def load_schema() -> dict:
    """The reduced schema: cached in .cache/, else built from the tarball (fetched if missing)."""
    try:
        with open(SCHEMA, encoding="utf-8") as f:
            schema = json.load(f)
        if schema.get("integrity") == INTEGRITY:
            return schema
    except (OSError, ValueError):
        pass
    with tarfile.open(fetch(), "r:gz") as archive:
        assembly = json.load(archive.extractfile("package/.jsii"))
    schema = {**reduce_assembly(assembly), "integrity": INTEGRITY}
    del assembly
    os.makedirs(CACHE_DIR, exist_ok=True)
    partial = f"{SCHEMA}.{os.getpid()}.partial"  # two sessions building at once do not mix
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(schema, f, separators=(",", ":"))
    os.replace(partial, SCHEMA)
    return schema


# --- the configuration ------------------------------------------------------------------------------


class Config:
    """Every *.tf file of a directory, parsed with python-hcl2 (blocks marked `__is_block__`)."""

    def __init__(self, directory: str):
        import hcl2

        options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=True, strip_string_quotes=True)
        self.problems: list[str] = []
        self.resources: dict[tuple[str, str], dict] = {}
        self.data: dict[tuple[str, str], dict] = {}
        self.variables: dict[str, dict] = {}
        self.locals: dict[str, object] = {}
        self.modules: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.providers: dict[str, dict] = {}
        self.others: list[tuple[str, object]] = []  # terraform, check, moved, import blocks
        for name in sorted(os.listdir(directory)):
            if name.endswith(".tf"):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    self._add(name, hcl2.load(f, serialization_options=options))

    def _declare(self, table: dict, key, body, what: str, file: str) -> None:
        if key in table:
            self.problems.append(f"{file}: {what} is declared twice")
        table[key] = body

    def _add(self, file: str, parsed: dict) -> None:
        for kind, blocks in parsed.items():
            for block in blocks:
                if kind in ("resource", "data"):
                    for rtype, named in _labels(block):
                        for name, body in _labels(named):
                            table = self.resources if kind == "resource" else self.data
                            label = f"{rtype}.{name}" if kind == "resource" else f"data.{rtype}.{name}"
                            self._declare(table, (rtype, name), body, label, file)
                elif kind in ("variable", "module", "output", "provider"):
                    table = {
                        "variable": self.variables,
                        "module": self.modules,
                        "output": self.outputs,
                        "provider": self.providers,
                    }[kind]
                    for name, body in _labels(block):
                        self._declare(table, name, body, f"{kind} {name}", file)
                elif kind == "locals":
                    for name, value in _labels(block):
                        self._declare(self.locals, name, value, f"local.{name}", file)
                else:
                    self.others.append((kind, block))


def _labels(block: dict):
    return [(k, v) for k, v in block.items() if k != "__is_block__"]


def _is_block(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def _dynamic_blocks(value) -> list[tuple[str, dict]] | None:
    """(NAME, generator) of each `dynamic "NAME" { for_each = ... content { ... } }` of a block's
    `dynamic` value, None when it is not one. python-hcl2 gives a list of {NAME: generator}, the
    generator a block (a dict) or, in some versions, a list of one."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return None
    found = []
    for item in value:
        for label, generator in _labels(item):
            if isinstance(generator, list) and len(generator) == 1:
                generator = generator[0]
            if not (isinstance(generator, dict) and generator.get("__is_block__")):
                return None
            found.append((label, generator))
    return found


# --- references ---------------------------------------------------------------------------------------


def expression_code(text: str) -> str:
    """The code of every ${...} and %{...} in a template string as python-hcl2 keeps it, with the
    templates nested in its string literals included and their literal text left out."""
    out: list[str] = []

    def template(i: int, quoted: bool) -> int:
        while i < len(text):
            if text[i] == "\\":
                i += 2
            elif quoted and text[i] == '"':
                return i + 1
            elif text.startswith(("$${", "%%{"), i):  # an escaped, literal ${ or %{
                i += 3
            elif text.startswith(("${", "%{"), i):
                i = code(i + 2)
            else:
                i += 1
        return i

    def code(i: int) -> int:
        depth = 0
        while i < len(text):
            c = text[i]
            if c == '"':
                out.append('""')
                i = template(i + 1, quoted=True)
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                if depth == 0:
                    out.append("\n")
                    return i + 1
                depth -= 1
            out.append(c)
            i += 1
        return i

    template(0, quoted=False)
    return "".join(out)


_TRAVERSAL = re.compile(r"(?<![\w.\]\)-])([A-Za-z_][\w-]*)((?:\s*\.\s*[A-Za-z_][\w-]*|\s*\[[^\]]*\])*)")
_STEP = re.compile(r"\.\s*([A-Za-z_][\w-]*)|\[[^\]]*\]")
_FOR = re.compile(r"\bfor\s+([A-Za-z_]\w*)(?:\s*,\s*([A-Za-z_]\w*))?\s+in\b")


def references(code: str) -> list[list[str]]:
    """Each traversal in expression code as [root, step, step...] (an index step is "[]").
    Only dotted ones: everything declared is reached through a namespace (var.x, local.x,
    TYPE.NAME, data.TYPE.NAME, module.NAME); a bare name is a keyword, an object key, a function
    or a for-expression's variable."""
    found = []
    for match in _TRAVERSAL.finditer(code):
        steps = [m.group(1) or "[]" for m in _STEP.finditer(match.group(2))]
        if steps and steps[0] != "[]" and not code[match.end() :].lstrip().startswith(("(", "::")):
            found.append([match.group(1), *steps])
    return found


def _strings(value, iterators: frozenset = frozenset()):
    """Every string in a parsed value, with the iterators of the dynamic blocks it sits in."""
    if isinstance(value, str):
        yield value, iterators
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, iterators)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "dynamic" and _dynamic_blocks(item) is not None:
                for label, body in _dynamic_blocks(item) or []:
                    yield from _strings(body, iterators | {body.get("iterator") or label})
            elif key != "__is_block__":
                yield from _strings(item, iterators)


def reference_problems(config: Config, schema: dict | None = None) -> list[str]:
    """Every reference that does not resolve; with a schema, also attributes read from resources
    and data sources that their schema does not have."""
    problems = list(config.problems)
    places: list[tuple[str, object, dict | None]] = []
    for (rtype, name), body in config.resources.items():
        places.append((f"{rtype}.{name}", body, body))
    for (rtype, name), body in config.data.items():
        places.append((f"data.{rtype}.{name}", body, body))
    # A variable's `type` is a type expression (string, list(string)), not references.
    places += [
        (f"variable {n}", {k: v for k, v in b.items() if k != "type"}, None) for n, b in config.variables.items()
    ]
    places += [(f"local.{n}", v, None) for n, v in config.locals.items()]
    places += [(f"output {n}", b, None) for n, b in config.outputs.items()]
    places += [(f"module {n}", b, b) for n, b in config.modules.items()]
    places += [(f"provider {n}", b, None) for n, b in config.providers.items()]
    places += [(kind, b, None) for kind, b in config.others if kind != "terraform"]

    for where, value, body in places:
        has_for_each = isinstance(body, dict) and "for_each" in body
        has_count = isinstance(body, dict) and "count" in body
        for text, iterators in _strings(value):
            code = expression_code(text)
            local_names = {n for m in _FOR.finditer(code) for n in m.groups() if n}
            for ref in references(code):
                problem = _resolve(config, schema, ref, local_names | iterators, has_for_each, has_count)
                if problem:
                    problems.append(f"{where}: {'.'.join(ref)}: {problem}")
    return sorted(set(problems))


def _resolve(config: Config, schema, ref: list[str], local_names: set, has_for_each: bool, has_count: bool):
    root, steps = ref[0], ref[1:]
    attr = lambda i: steps[i] if len(steps) > i and steps[i] != "[]" else None  # noqa: E731
    if root in local_names or root in BUILTIN_ROOTS:
        return None
    if root == "each":
        return None if has_for_each else "`each` outside a block with for_each"
    if root == "count":
        return None if has_count else "`count` outside a block with count"
    if root == "var":
        return None if attr(0) in config.variables else "no such variable"
    if root == "local":
        if attr(0) not in config.locals:
            return "no such local value"
        value = config.locals[attr(0)]
        if isinstance(value, dict) and attr(1) is not None and attr(1) not in value:
            return f"local.{attr(0)} has no key {attr(1)}"
        return None
    if root == "module":
        return None if attr(0) in config.modules else "no such module"
    if root == "data":
        if (attr(0), attr(1)) not in config.data:
            return "no such data source"
        return _attribute_problem(schema, "data", attr(0), steps[2:])
    if (root, attr(0)) not in config.resources:
        return "no such resource"
    return _attribute_problem(schema, "resource", root, steps[1:])


def _attribute_problem(schema, kind: str, rtype: str, steps: list[str]):
    if schema is None or rtype not in schema[kind]:
        return None  # an unknown type is reported by the schema check
    steps = [s for s in steps if s != "[]"]  # for_each keys and count indexes
    if steps and steps[0] not in schema["blocks"][schema[kind][rtype]]["attributes"]:
        return f"{rtype} has no attribute {steps[0]}"
    return None


# --- the schema ---------------------------------------------------------------------------------------


def schema_problems(config: Config, schema: dict, allowed: dict | None = None) -> list[str]:
    """Every argument or block not in the provider's schema, written in the wrong form or with a
    value of the wrong type, and every required one left out. `allowed`: {"TYPE.path.to.arg":
    reason} for arguments known to be newer than the schema."""
    allowed = allowed or {}
    problems = []
    for kind, table in (("resource", config.resources), ("data", config.data)):
        for (rtype, name), body in table.items():
            label = f"{rtype}.{name}" if kind == "resource" else f"data.{rtype}.{name}"
            if rtype not in schema[kind]:
                problems.append(f"{label}: the provider has no {kind} type {rtype}")
                continue
            problems += _block_problems(schema, schema[kind][rtype], body, label, rtype, allowed, top=True)
    for name, body in config.providers.items():
        if name == "google" and schema.get("provider"):
            problems += _block_problems(
                schema, schema["provider"], body, f"provider {name}", "provider", allowed, top=False, meta={"alias"}
            )
    return problems


def _block_problems(
    schema, block_id: str, body: dict, where: str, path: str, allowed: dict, top: bool, meta: set | None = None
) -> list[str]:
    arguments = schema["blocks"][block_id]["arguments"]
    meta = meta if meta is not None else (META_ARGUMENTS if top else set())
    problems = []
    written = dict(_labels(body))
    if _dynamic_blocks(written.get("dynamic")) is not None and "dynamic" not in arguments:
        # dynamic "NAME" { content { ... } }: NAME blocks, after the ones written out
        for label, generator in _dynamic_blocks(written.pop("dynamic")) or []:
            written[label] = [*written.get(label, []), *generator.get("content", [])]
    for key, value in written.items():
        here, allowed_path = f"{where}: {key}", f"{path}.{key}"
        if key in meta:
            if key == "lifecycle" and _is_block(value):
                problems += [
                    f"{here}: lifecycle has no {k}" for v in value for k in _labels(v) if k[0] not in LIFECYCLE
                ]
            continue
        if key not in arguments:
            if allowed_path not in allowed:
                problems.append(f"{here}: {path} has no such argument or block in the provider's schema")
            continue
        spec = arguments[key]
        if "block" in spec:
            if not _is_block(value):
                problems.append(
                    f"{here}: is a block in the provider's schema: write `{key} {{ ... }}`, not `{key} = ...`"
                )
                continue
            if spec["nesting"] == "single" and len(value) > 1:
                problems.append(f"{here}: at most one {key} block")
            for item in value:
                problems += _block_problems(schema, spec["block"], item, here, allowed_path, allowed, top=False)
        elif _is_block(value):
            problems.append(f"{here}: is an argument in the provider's schema: write `{key} = ...`, not a block")
        else:
            wrong = _type_problem(spec["type"], value)
            if wrong:
                problems.append(f"{here}: {wrong}")
    for key, spec in arguments.items():
        if spec["required"] and key not in written and f"{path}.{key}" not in allowed:
            problems.append(f"{where}: the required {'block' if 'block' in spec else 'argument'} {key} is missing")
    return problems


def _type_problem(expected, value) -> str | None:
    """Why a literal value cannot be converted to the expected type (Terraform converts between
    strings, numbers and bools where the text allows); None when it fits or is not known yet."""
    if isinstance(value, str) and re.fullmatch(r"\$\{.*\}", value, re.DOTALL) and value.count("${") == 1:
        return None  # a whole expression: its type is known only when planned
    if expected == "any":
        return None
    if isinstance(expected, list):
        outer, element = expected
        if outer == "list" and isinstance(value, list):
            return next((p for p in (_type_problem(element, v) for v in value) if p), None)
        if outer == "map" and isinstance(value, dict):
            return next((p for p in (_type_problem(element, v) for v in value.values()) if p), None)
        return f"expected a {outer}, got {_describe(value)}"
    if isinstance(value, (list, dict)):
        return f"expected a {expected}, got {_describe(value)}"
    if expected == "string":
        return None
    if expected == "number":
        if isinstance(value, bool) or (isinstance(value, str) and "${" not in value and not _is_number(value)):
            return f"expected a number, got {_describe(value)}"
        return None
    if expected == "bool":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"expected a bool, got {_describe(value)}"
        if isinstance(value, str) and "${" not in value and value not in ("true", "false"):
            return f"expected a bool, got {_describe(value)}"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _describe(value) -> str:
    if isinstance(value, bool):
        return f"the bool {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return f"the string {value!r}"


def check(directory: str = TF_DIR, allowed: dict | None = None) -> list[str]:
    config, schema = Config(directory), load_schema()
    return reference_problems(config, schema) + schema_problems(config, schema, allowed)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["fetch"]:
        try:
            load_schema()
        except SchemaUnavailable as e:
            print(f"terraform_check: {e}", file=sys.stderr)
            return 1
        print(f"{PACKAGE}@{VERSION}: verified, schema in {os.path.relpath(SCHEMA)}")
        return 0
    problems = check(args[0] if args else TF_DIR)
    for problem in problems:
        print(problem)
    print(
        f"{len(problems)} problem(s)"
        if problems
        else "terraform: every reference resolves and the provider's schema accepts every argument"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
