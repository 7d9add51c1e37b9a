"""JSON and msgpack in the wire format, with encoders and decoders built once.

Times are epoch milliseconds and durations integer milliseconds (see `_time`).
Decoding errors become `ValidationError` with the wire path of the bad field.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec

from ._errors import ValidationError
from ._time import Instant, Millis, as_duration, from_ms, ms_of, normalize_time, to_ms

__all__ = [
    "conform",
    "from_builtins",
    "from_json",
    "from_msgpack",
    "to_builtins",
    "to_json",
    "to_msgpack",
]

T = TypeVar("T")


_MEMO_LIMIT = 1024
_memo: dict[object, int] = {}
"""Milliseconds of recently encoded times. Records written together share their times
(a batch's creation time, one cron's next fires), and a hook call that finds its
answer here costs a third of one that computes it. The loop and the writer thread
both encode: each dict operation is atomic, and a value computed twice is the same."""


def _enc_hook(value: Any) -> Any:
    kind = type(value)
    if kind is Instant or kind is Millis:
        ms = _memo.get(value)
        if ms is None:
            if len(_memo) >= _MEMO_LIMIT:
                _memo.clear()
            ms = _memo[value] = to_ms(value) if kind is Instant else ms_of(value)
        return ms
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, timedelta):
        return ms_of(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_decoded: dict[tuple[type, int], Any] = {}
"""Recently decoded times, by type and milliseconds: records read together share them
(a crowd of automations on one schedule, its next fires and catch-up window), so they
hold one immutable object each instead of one per record, every one an object the
cycle collector scans. Bounded, and safe across threads as `_memo` is."""


def _dec_hook(tp: type, value: Any) -> Any:
    try:
        return _decode_time(tp, value)
    except OverflowError:  # a number no datetime or timedelta can hold: bad input
        raise ValueError("out of range") from None


def _decode_time(tp: type, value: Any) -> Any:
    if type(value) is int and (tp is Instant or tp is Millis):
        key = (tp, value)
        found = _decoded.get(key)
        if found is None:
            if len(_decoded) >= _MEMO_LIMIT:
                _decoded.clear()
            found = _decoded[key] = from_ms(value) if tp is Instant else Millis(milliseconds=value)
        return found
    if tp is Instant:
        if isinstance(value, int) and not isinstance(value, bool):
            return from_ms(value)
        if isinstance(value, datetime):
            # A naive one stays as it is: validation names it with its field.
            return normalize_time(value)
        raise TypeError(f"Expected epoch milliseconds, got `{type(value).__name__}`")
    if tp is Millis:
        if isinstance(value, int) and not isinstance(value, bool):
            return Millis(milliseconds=value)
        if isinstance(value, timedelta):
            return as_duration(value)
        raise TypeError(f"Expected milliseconds, got `{type(value).__name__}`")
    raise NotImplementedError(f"cannot decode {tp!r}")


_json_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


_json_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_msgpack_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def _json_decoder(tp: Any) -> msgspec.json.Decoder[Any]:
    decoder = _json_decoders.get(tp)
    if decoder is None:
        decoder = _json_decoders[tp] = msgspec.json.Decoder(tp, dec_hook=_dec_hook)
    return decoder


def _msgpack_decoder(tp: Any) -> msgspec.msgpack.Decoder[Any]:
    decoder = _msgpack_decoders.get(tp)
    if decoder is None:
        decoder = _msgpack_decoders[tp] = msgspec.msgpack.Decoder(tp, dec_hook=_dec_hook)
    return decoder


def to_json(value: object) -> bytes:
    return _json_encoder.encode(value)


def to_msgpack(value: object) -> bytes:
    return _msgpack_encoder.encode(value)


def to_builtins(value: object) -> Any:
    """The wire form as JSON values: exactly what `to_json` writes, decoded."""
    return msgspec.json.decode(_json_encoder.encode(value))


def from_json(data: bytes | str, tp: type[T], *, unknown: str = "invalid_value") -> T:
    try:
        decoded: T = _json_decoder(tp).decode(data)
        return decoded
    except msgspec.DecodeError as exc:
        raise _validation_error(exc, unknown) from None


def from_msgpack(data: bytes, tp: type[T]) -> T:
    """Decode stored data; a failure here means the database is damaged, not bad input."""
    decoded: T = _msgpack_decoder(tp).decode(data)
    return decoded


def from_builtins(value: Any, tp: type[T], *, unknown: str = "invalid_value") -> T:
    """Python values (dicts, kwargs) to `tp`, with the same checks as decoding JSON."""
    try:
        return msgspec.convert(value, tp, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, unknown) from None


def conform(value: T, tp: type[T], *, unknown: str = "invalid_value") -> T:
    """`value`, built in Python, checked and converted as the wire decoder would decode
    it: every field's type checked, enums made from their strings. A Python caller and
    a JSON caller get the same `ValidationError`, and nothing is stored that cannot be
    read back."""
    try:
        # Times go as the wire has them; a naive datetime stays one, for validation.
        wire = msgspec.to_builtins(value, builtin_types=_KEPT, enc_hook=_enc_hook)
        return msgspec.convert(wire, tp, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, unknown) from None
    except (TypeError, ValueError) as exc:  # a value msgspec cannot even take apart
        raise ValidationError([("$", f"invalid_value: {exc}")]) from None


_KEPT = (datetime, timedelta)


_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`")


def _validation_error(exc: msgspec.DecodeError, unknown: str) -> ValidationError:
    """Turn msgspec's message into `(field, message)`, the field as a wire path."""
    text = str(exc)
    match = _PATH.search(text)
    path = match.group("path") if match else ""
    message = text[: match.start()] if match else text
    if found := _UNKNOWN.match(message):
        return ValidationError([(_join(path, found.group("name")), unknown)])
    if found := _MISSING.match(message):
        return ValidationError([(_join(path, found.group("name")), "required")])
    if not isinstance(exc, msgspec.ValidationError):
        return ValidationError([(path or "$", f"malformed_input: {message}")])
    return ValidationError([(path or "$", f"invalid_value: {message}")])


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
