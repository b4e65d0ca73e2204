"""Records: baker's typed values, what `@dataclass` gave, made without compiling code at start.

    class Ref(Record):                      # frozen, like @dataclass(frozen=True)
        name: str
        version: str | None = None
        seen: tuple[str, ...] = field(default_factory=tuple)

    class Tally(Record, frozen=False):      # like a plain @dataclass
        count: int = 0

A subclass gets `__init__` (positional or keyword, defaults and factories, then `__post_init__`
if it has one), `__repr__` (`Ref(name='a', version=None, seen=())`, fields made with
`field(repr=False)` left out), `__eq__` (same class, equal fields; `compare=False` fields left
out), `__hash__` (frozen: of the compared fields; else unhashable), `__match_args__`, and a frozen
record refuses attribute assignment and deletion (`FrozenInstanceError`).  `replace` makes a
changed copy.  A method the class body defines itself is kept.  Fields are the annotated names of
the class and of its Record bases (base fields first), `ClassVar` annotations excepted.

Why not the standard library's dataclasses: on Python 3.11 each dataclass compiles its six
generated methods with one `exec` each (~1 ms a class) and importing dataclasses imports
`inspect` (~12 ms): with baker's ~30 records on `validate`'s path that was a third of a 0.15 s
command (issue 17, ARCHITECTURE.md "Decisions").  Here the methods are written once, shared by
every record, and read the field list each class stores when it is defined.  Type checkers see
records as dataclasses (`dataclass_transform`): the constructor is checked as `@dataclass`'s is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

if TYPE_CHECKING:  # typing has it from Python 3.11; type checkers know typing_extensions' always
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[type], type]:
        return lambda cls: cls


__all__ = ["FrozenInstanceError", "Record", "asdict", "field", "fields", "replace"]

_T = TypeVar("_T")
_R = TypeVar("_R", bound="Record")


class FrozenInstanceError(AttributeError):
    """An assignment to, or deletion of, an attribute of a frozen record."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """What `field()` says of one field (stored as the class attribute until the class is made)."""

    __slots__ = ("compare", "default", "default_factory", "repr")

    def __init__(
        self, default: Any, default_factory: Callable[[], Any] | None, repr: bool, compare: bool
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


@overload
def field(*, default: _T, repr: bool = True, compare: bool = True) -> _T: ...
@overload
def field(*, default_factory: Callable[[], _T], repr: bool = True, compare: bool = True) -> _T: ...
@overload
def field(*, repr: bool = True, compare: bool = True) -> Any: ...
def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field with more to say than its default: a factory, or left out of repr or comparison."""
    if default is not MISSING and default_factory is not None:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, repr, compare)


def _is_classvar(annotation: object) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations`
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(annotation, "__origin__", None) is not None and "ClassVar" in repr(annotation)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """A typed value with generated-looking methods (see the module's docstring)."""

    __slots__ = ()
    __record_fields__: ClassVar[tuple[str, ...]] = ()
    __record_defaults__: ClassVar[dict[str, Any]] = {}  # replaced per class, never mutated
    __record_factories__: ClassVar[dict[str, Callable[[], Any]]] = {}
    __record_repr__: ClassVar[tuple[str, ...]] = ()
    __record_compare__: ClassVar[tuple[str, ...]] = ()
    __record_frozen__: ClassVar[bool] = True
    __record_post_init__: ClassVar[bool] = False
    __record_names__: ClassVar[frozenset[str]] = frozenset()
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, *, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bases = [b for b in cls.__mro__[1:] if issubclass(b, Record) and b is not Record]
        if bases and bases[0].__record_fields__ and bases[0].__record_frozen__ != frozen:
            kind = "frozen" if frozen else "non-frozen"
            raise TypeError(f"cannot inherit {kind} record {cls.__name__} from the other kind")
        names: list[str] = []
        defaults: dict[str, Any] = {}
        factories: dict[str, Callable[[], Any]] = {}
        hidden: set[str] = set()
        uncompared: set[str] = set()
        for base in reversed(bases):
            for name in base.__record_fields__:
                if name not in names:
                    names.append(name)
            defaults.update(base.__record_defaults__)
            factories.update(base.__record_factories__)
            hidden.update(set(base.__record_fields__) - set(base.__record_repr__))
            uncompared.update(set(base.__record_fields__) - set(base.__record_compare__))
        own = cls.__dict__.get("__annotations__")  # noqa: RUF063 - inspect is what we avoid
        if own is None and "__annotate__" in cls.__dict__:
            # Python 3.14 keeps a class's annotations unevaluated (PEP 649); under the future
            # import they are stored as strings, as on 3.10-3.13 (every baker module has it)
            raise TypeError(
                f"{cls.__qualname__}: a Record's module needs `from __future__ import annotations`"
            )
        own = own or {}
        for name, annotation in own.items():
            if _is_classvar(annotation):
                continue
            if name not in names:
                names.append(name)
            value = cls.__dict__.get(name, MISSING)
            if isinstance(value, Field):
                defaults.pop(name, None)
                factories.pop(name, None)
                if value.default_factory is not None:
                    factories[name] = value.default_factory
                    delattr(cls, name)
                elif value.default is not MISSING:
                    defaults[name] = value.default
                    setattr(cls, name, value.default)
                else:
                    delattr(cls, name)
                (hidden.discard if value.repr else hidden.add)(name)
                (uncompared.discard if value.compare else uncompared.add)(name)
            elif value is not MISSING:
                factories.pop(name, None)
                defaults[name] = value
        seen_default = None
        for name in names:
            if name in defaults or name in factories:
                seen_default = name
            elif seen_default is not None:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        cls.__record_fields__ = tuple(names)
        cls.__record_names__ = frozenset(names)
        cls.__record_defaults__ = defaults
        cls.__record_factories__ = factories
        cls.__record_repr__ = tuple(n for n in names if n not in hidden)
        cls.__record_compare__ = tuple(n for n in names if n not in uncompared)
        cls.__record_frozen__ = frozen
        cls.__record_post_init__ = hasattr(cls, "__post_init__")
        if "__match_args__" not in cls.__dict__:
            setattr(cls, "__match_args__", tuple(names))  # noqa: B010 - mypy forbids the assignment
        if not frozen:
            # as @dataclass: a mutable record that compares equal is not hashable; it assigns as
            # any object does (no check on the way)
            if "__hash__" not in cls.__dict__:
                cls.__hash__ = None  # type: ignore[assignment]
            if "__setattr__" not in cls.__dict__:
                cls.__setattr__ = object.__setattr__  # type: ignore[method-assign,assignment]
            if "__delattr__" not in cls.__dict__:
                cls.__delattr__ = object.__delattr__  # type: ignore[method-assign]
        elif cls.__dict__.get("__hash__", MISSING) is None and "__eq__" in cls.__dict__:
            # as @dataclass(frozen=True): an __eq__ of its own keeps the generated hash
            cls.__hash__ = Record.__hash__  # type: ignore[method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = cls.__record_fields__
        if not kwargs and len(args) == len(names):  # every field, in order: kept short
            values = dict(zip(names, args, strict=True))
        elif not args and kwargs.keys() == cls.__record_names__:  # every field, by name
            values = kwargs
        else:
            values = _bind(cls, args, kwargs)
        self.__dict__.update(values)
        if cls.__record_post_init__:
            self.__post_init__()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_repr__)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        compared = self.__record_compare__
        return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__record_compare__))

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__record_frozen__:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__record_frozen__:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)


def _bind(cls: type[Record], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The fields' values from a call's arguments and the class's defaults, or the TypeError that
    Python gives a function with the same parameters."""
    names = cls.__record_fields__
    if len(args) > len(names):  # worded as Python words it (`self` counted)
        optional = len(cls.__record_defaults__) + len(cls.__record_factories__)
        takes = f"from {len(names) - optional + 1} to {len(names) + 1}" if optional else f"{len(names) + 1}"
        raise TypeError(
            f"{cls.__qualname__}.__init__() takes {takes} positional arguments but {len(args) + 1} were given"
        )
    values = dict(zip(names, args, strict=False))  # fewer args: the rest below
    for name, value in kwargs.items():
        if name in values:
            raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument {name!r}")
        if name not in names:
            raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument {name!r}")
        values[name] = value
    if len(values) < len(names):
        missing = []
        for name in names:
            if name in values:
                continue
            if name in cls.__record_defaults__:
                values[name] = cls.__record_defaults__[name]
            elif name in cls.__record_factories__:
                values[name] = cls.__record_factories__[name]()
            else:
                missing.append(name)
        if missing:  # worded as Python words it for a function
            quoted = [repr(n) for n in missing]
            listed = (
                " and ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
            )
            plural = "argument" if len(quoted) == 1 else "arguments"
            raise TypeError(
                f"{cls.__qualname__}.__init__() missing {len(quoted)} required positional {plural}: {listed}"
            )
    return values


def replace(record: _R, /, **changes: Any) -> _R:
    """A copy of `record` with `changes` (as `dataclasses.replace`): its `__init__` runs again."""
    values = {name: getattr(record, name) for name in record.__record_fields__}
    for name in changes:
        if name not in values:
            raise TypeError(f"{type(record).__qualname__} has no field {name!r}")
    values.update(changes)
    return type(record)(**values)


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The names of a record's fields, in order."""
    return record.__record_fields__


def asdict(record: Record) -> dict[str, Any]:
    """A record's fields as a dict, records within (and in lists, tuples, dicts) made dicts too."""
    return {name: _plain(getattr(record, name)) for name in record.__record_fields__}


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return asdict(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value
