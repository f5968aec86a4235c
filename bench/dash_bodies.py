"""What the page sends to Dash's callback endpoint, built from what the server serves (its
dependencies and layout), so a benchmark's requests follow the callbacks' signatures.
No locust here: tests import it (locust's gevent patching must not reach them)."""

from __future__ import annotations


def initial_values(layout: dict) -> dict[tuple[str, str], object]:
    """(component id, property) -> the value the served layout gives it, as a browser starts."""
    values: dict[tuple[str, str], object] = {}
    stack = [layout]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict) and "props" in node:
            props = node["props"]
            if isinstance(props.get("id"), str):
                values.update({(props["id"], k): v for k, v in props.items()})
            stack.extend(v for v in props.values() if isinstance(v, (dict, list)))
    return values


def slider_body(cb: dict, initial: dict, sol_range: list[int]) -> dict:
    """The body the page sends when the sol slider moves: every input and state of the
    charts' callback with the layout's values (so it follows the callback's signature), the
    range changed."""

    def item(dep: dict) -> dict:
        value = sol_range if dep["id"] == "sol-range" else initial.get((dep["id"], dep["property"]))
        return {"id": dep["id"], "property": dep["property"], "value": value}

    outputs = []
    for part in cb["output"].strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        outputs.append({"id": cid, "property": prop})
    return {
        "output": cb["output"],
        "outputs": outputs,
        "inputs": [item(dep) for dep in cb["inputs"]],
        "changedPropIds": ["sol-range.value"],
        "state": [item(dep) for dep in cb.get("state", [])],
    }
