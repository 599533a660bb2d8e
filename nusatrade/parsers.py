"""The API's only body parser: strict JSON, an object at the top, bounded in size and shape.

DRF's stock ``JSONParser`` accepts any JSON value (``"s"``, ``[1]``, ``7``), so code that
expects a mapping (a serializer, the rate-limit key function) raised ``AttributeError`` -> an
HTML 500 before authentication. It also lets ``json`` recurse until ``RecursionError`` on
``[[[[...`` and raises ``LookupError`` on an unknown ``charset``: 500s again. Here every such
body is a ``ParseError`` (JSON 400). The byte size is bounded by Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (DRF reads JSON through ``request.body``; the exception handler
in ``nusatrade.api`` turns ``RequestDataTooBig`` into a JSON 413) and the number of keys by
``DATA_UPLOAD_MAX_NUMBER_FIELDS``, the cap Django applies to form fields.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

# Nesting deeper than any body we accept; far below Python's recursion limit.
MAX_DEPTH = 32


class StrictJSONParser(JSONParser):
    """JSON whose top level is an object (``require_object``), with bounded keys and depth."""

    require_object = True

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except LookupError:
            raise ParseError(f"JSON parse error - unknown charset {encoding!r}.") from None
        except ValueError as exc:  # UnicodeDecodeError
            raise ParseError(f"JSON parse error - body is not valid {encoding}: {exc}") from None
        data = _loads(text, strict=api_settings.STRICT_JSON)
        if self.require_object and not isinstance(data, dict):
            raise ParseError(f"JSON parse error - expected an object ({{...}}) at the top "
                             f"level, got {_json_type(data)}.")
        _validate_shape(data)
        return data


class StrictJSONAnyParser(StrictJSONParser):
    """For a view that really takes a top-level array or scalar: set it in ``parser_classes``."""

    require_object = False


def _loads(text: str, *, strict: bool) -> Any:
    try:
        return json.loads(text, parse_constant=drf_json.strict_constant if strict else None)
    except RecursionError:
        raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None


def _validate_shape(data: Any) -> None:
    """Count keys over the whole document and bound the nesting (iteratively: no recursion)."""
    max_keys = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    keys = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            keys += len(value)
            if max_keys is not None and keys > max_keys:
                raise ParseError(f"JSON parse error - more than {max_keys} keys "
                                 "(DATA_UPLOAD_MAX_NUMBER_FIELDS).")
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
