"""Block Kit as HTML for the demo page: section, context, header, divider, actions, input and
their elements (buttons, selects, text inputs, checkboxes, radio buttons, datepicker, file
input), filled from the view's state as Slack's client fills them.

Every text goes through `mrkdwn`/`plain` (escaped); ids and values land only in quoted,
escaped attributes. Elements carry `data-block`/`data-action`/`data-kind` so the page's script
can tell the demo which one was used; the demo derives Slack's payload from the stored view.
"""

from __future__ import annotations

import html
import json
from typing import Any

from bot.demo.mrkdwn import Names, mrkdwn, plain
from bot.demo.ui import State, elements_of, options_of, text_of


def attr(value: Any) -> str:
    return html.escape(str(value), quote=True)


def text_html(text: Any, names: Names) -> str:
    """A text object: mrkdwn rendered, plain_text shown as is."""
    if isinstance(text, dict) and text.get("type") == "mrkdwn":
        return mrkdwn(str(text.get("text", "")), names)
    return plain(text_of(text))


def _ids(block: dict[str, Any], element: dict[str, Any]) -> str:
    return (
        f'data-block="{attr(block.get("block_id", ""))}" '
        f'data-action="{attr(element.get("action_id", ""))}" '
        f'data-kind="{attr(element.get("type", ""))}"'
    )


def _confirm(confirm: dict[str, Any], names: Names) -> str:
    style = attr(confirm.get("style", "primary"))
    return (
        '<template class="confirm"><div class="dialog" role="dialog">'
        f"<h4>{text_html(confirm.get('title'), names)}</h4>"
        f"<p>{text_html(confirm.get('text'), names)}</p>"
        f'<div class="foot"><button class="btn deny">{text_html(confirm.get("deny"), names)}'
        f'</button><button class="btn {style} yes">{text_html(confirm.get("confirm"), names)}'
        "</button></div></div></template>"
    )


def _button(block: dict[str, Any], element: dict[str, Any], names: Names) -> str:
    label = text_html(element.get("text"), names)
    style = attr(element.get("style", ""))
    url = str(element.get("url") or "")
    if url.lower().startswith(("http://", "https://")):
        return (
            f'<a class="btn {style}" href="{attr(url)}" target="_blank" rel="noopener">{label}</a>'
        )
    confirm = _confirm(element["confirm"], names) if element.get("confirm") else ""
    button = f'<button class="btn {style}" {_ids(block, element)}>{label}</button>'
    return f'<span class="btnwrap">{button}{confirm}</span>'


def _option_values(state: dict[str, Any]) -> set[str]:
    chosen = state.get("selected_options") or [state.get("selected_option")]
    return {str(option["value"]) for option in chosen if option}


def _select(block: dict[str, Any], element: dict[str, Any], state: dict[str, Any]) -> str:
    many = element["type"] == "multi_static_select"
    chosen = _option_values(state)
    placeholder = (
        ""
        if many
        else f'<option value="">{plain(text_of(element.get("placeholder")) or "Choose…")}</option>'
    )
    options = "".join(
        f'<option value="{attr(o["value"])}"{" selected" if str(o["value"]) in chosen else ""}>'
        f"{plain(text_of(o['text']))}</option>"
        for o in options_of(element)
    )
    dispatch = "1" if block.get("type") == "actions" or block.get("dispatch_action") else "0"
    multiple = " multiple" if many else ""
    opening = f'<select class="entry" {_ids(block, element)} data-dispatch="{dispatch}"{multiple}>'
    return f"{opening}{placeholder}{options}</select>"


def _choices(
    block: dict[str, Any], element: dict[str, Any], state: dict[str, Any], names: Names
) -> str:
    kind = "checkbox" if element["type"] == "checkboxes" else "radio"
    chosen = _option_values(state)
    group = attr(f"{block.get('block_id')}/{element.get('action_id')}")
    items = []
    for option in options_of(element):
        checked = " checked" if str(option["value"]) in chosen else ""
        description = option.get("description")
        hint = f"<small>{text_html(description, names)}</small>" if description else ""
        items.append(
            f'<label class="choice"><input type="{kind}" name="{group}" '
            f'value="{attr(option["value"])}"{checked}>'
            f"<span>{text_html(option.get('text'), names)}{hint}</span></label>"
        )
    return f'<div class="entry choices" {_ids(block, element)}>{"".join(items)}</div>'


def _text_input(block: dict[str, Any], element: dict[str, Any], state: dict[str, Any]) -> str:
    value = state.get("value") or ""
    placeholder = attr(text_of(element.get("placeholder")))
    most = f' maxlength="{int(element["max_length"])}"' if element.get("max_length") else ""
    common = f'class="entry" {_ids(block, element)} placeholder="{placeholder}"{most}'
    if element.get("multiline"):
        return f'<textarea {common} rows="4">{plain(value)}</textarea>'
    kind = {"email_text_input": "email", "url_text_input": "url", "number_input": "number"}
    return f'<input type="{kind.get(element["type"], "text")}" {common} value="{attr(value)}">'


def _file_input(block: dict[str, Any], element: dict[str, Any], state: dict[str, Any]) -> str:
    files = state.get("files") or []
    attached = "".join(f"<li>📎 {plain(str(f.get('name', '')))}</li>" for f in files)
    kinds = attr(",".join("." + t for t in element.get("filetypes") or []))
    return (
        f'<div class="entry files" {_ids(block, element)} data-files="{attr(json.dumps(files))}">'
        f'<input type="file" accept="{kinds}"><span class="samples"></span>'
        f"<ul>{attached}</ul></div>"
    )


def element_html(
    block: dict[str, Any], element: dict[str, Any], state: dict[str, Any], names: Names
) -> str:
    kind = element.get("type")
    if kind == "button":
        return _button(block, element, names)
    if kind in ("static_select", "multi_static_select"):
        return _select(block, element, state)
    if kind in ("checkboxes", "radio_buttons"):
        return _choices(block, element, state, names)
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        return _text_input(block, element, state)
    if kind == "datepicker":
        value = attr(state.get("selected_date") or "")
        return f'<input type="date" class="entry" {_ids(block, element)} value="{value}">'
    if kind == "file_input":
        return _file_input(block, element, state)
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{text_html(element, names)}</span>"
    if kind == "image":
        return f'<span class="alt">[{plain(str(element.get("alt_text", "image")))}]</span>'
    return f'<span class="unknown">[{plain(str(kind))}]</span>'


def _state_of(values: State, block: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    return (values.get(str(block.get("block_id"))) or {}).get(str(element.get("action_id"))) or {}


def _input_block(block: dict[str, Any], element: str, error: str | None, names: Names) -> str:
    """An input block: its label (the group's accessible name), the element, hint and error."""
    hint = block.get("hint")
    optional = ' <span class="optional">(optional)</span>' if block.get("optional") else ""
    label = text_html(block.get("label"), names)
    return (
        f'<div class="input" role="group" aria-label="{attr(text_of(block.get("label")))}">'
        f'<div class="label">{label}{optional}</div>{element}'
        + (f'<div class="hint">{text_html(hint, names)}</div>' if hint else "")
        + (f'<div class="error">{plain(error)}</div>' if error else "")
        + "</div>"
    )


def block_html(block: dict[str, Any], values: State, errors: dict[str, str], names: Names) -> str:
    kind = block.get("type")
    parts = [element_html(block, e, _state_of(values, block, e), names) for e in elements_of(block)]
    if kind == "header":
        return f'<h3 class="header">{text_html(block.get("text"), names)}</h3>'
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        return f'<div class="context">{" ".join(parts)}</div>'
    if kind == "actions":
        return f'<div class="actions">{"".join(parts)}</div>'
    if kind == "section":
        text = (
            f'<div class="text">{text_html(block["text"], names)}</div>'
            if block.get("text")
            else ""
        )
        fields = "".join(f"<div>{text_html(f, names)}</div>" for f in block.get("fields") or [])
        fields = f'<div class="fields">{fields}</div>' if fields else ""
        accessory = f'<div class="accessory">{"".join(parts)}</div>' if parts else ""
        return f'<div class="section"><div class="body">{text}{fields}</div>{accessory}</div>'
    if kind == "input":
        return _input_block(block, "".join(parts), errors.get(str(block.get("block_id"))), names)
    return f'<div class="unknown">[{plain(str(kind))} block]</div>'


def blocks_html(
    blocks: list[dict[str, Any]],
    values: State | None = None,
    errors: dict[str, str] | None = None,
    names: Names = lambda user_id: user_id,
) -> str:
    """Blocks as HTML, their elements showing `values` (Slack's state.values)."""
    return "".join(block_html(b, values or {}, errors or {}, names) for b in blocks)
