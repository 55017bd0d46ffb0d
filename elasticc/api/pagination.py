"""Keyset (cursor) pagination shared by every list endpoint of the API.

Why not DRF's LimitOffsetPagination: OFFSET makes PostgreSQL read and throw
away every row before the page, so page n costs O(n), and rows inserted while
a client pages shift later pages (rows seen twice or never). Here `next` and
`previous` carry the primary key of the last/first row shown
(`?after=<key>` / `?before=<key>`); the page is `WHERE key > after ORDER BY
key LIMIT n` on the primary-key index, so every page costs the same at any
depth, and a walk that follows `next` sees every row exactly once even while
rows are being inserted (a new row shows up once if its key is ahead of the
walk, and never disturbs the rows behind it).

Query parameters:
- `limit`: rows per page, default `DEFAULT_LIMIT` (100), at most `MAX_LIMIT` (1000);
- `after` / `before`: keyset cursors (what `next`/`previous` use);
- `offset`: for old scripts; allowed up to `MAX_OFFSET` (10,000) so its cost
  stays bounded; deeper pages must follow `next`.

`count` is the list's total: exact and O(1) for unfiltered lists (trigger
counters), exact for small filtered lists, else the planner's estimate with
`"count_is_estimate": true` (see `elasticc.read.selectors`).
"""

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000


class KeysetPagination(BasePagination):
    """Pages ordered by the view's integer `pagination_key` column."""

    limit_query_param = "limit"
    offset_query_param = "offset"
    after_query_param = "after"
    before_query_param = "before"

    def _int_param(self, request: Request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValidationError({name: f"must be an integer, got {raw!r}"}) from None

    def _read_params(self, request: Request) -> tuple[int, int | None, int | None, int | None]:
        limit = self._int_param(request, self.limit_query_param)
        if limit is None:
            limit = DEFAULT_LIMIT
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError({self.limit_query_param: f"must be between 1 and {MAX_LIMIT}"})
        after = self._int_param(request, self.after_query_param)
        before = self._int_param(request, self.before_query_param)
        offset = self._int_param(request, self.offset_query_param)
        if sum(value is not None for value in (after, before, offset)) > 1:
            raise ValidationError("use only one of after, before and offset")
        if offset is not None and not 0 <= offset <= MAX_OFFSET:
            raise ValidationError(
                {
                    self.offset_query_param: f"must be between 0 and {MAX_OFFSET}; "
                    "to go deeper follow the `next` links (keyset cursor, same cost at any depth)"
                }
            )
        return limit, after, before, offset

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:
        """The rows of this page (a list of the queryset's items) in key order."""
        self.request = request
        self.key = key = view.pagination_key
        limit, after, before, offset = self._read_params(request)
        self.total = view.list_total(queryset=queryset)
        ordered = queryset.order_by(key)
        if before is not None:
            rows = list(queryset.filter(**{f"{key}__lt": before}).order_by(f"-{key}")[: limit + 1])
            self.has_previous = len(rows) > limit
            rows = rows[:limit][::-1]
            self.has_next = True
        elif after is not None:
            rows = list(ordered.filter(**{f"{key}__gt": after})[: limit + 1])
            self.has_next = len(rows) > limit
            rows = rows[:limit]
            self.has_previous = True
        else:
            start = offset or 0
            rows = list(ordered[start : start + limit + 1])
            self.has_next = len(rows) > limit
            rows = rows[:limit]
            self.has_previous = start > 0
        self.after, self.before = after, before
        self.page_keys = [self._key_of(row) for row in rows]
        return rows

    def _key_of(self, row: Any) -> int:
        """The key of a row: `values_list()` tuples carry it first."""
        if isinstance(row, tuple):
            return row[0]
        return row[self.key] if isinstance(row, dict) else getattr(row, self.key)

    def _base_url(self) -> str:
        url = self.request.build_absolute_uri()
        for name in (self.offset_query_param, self.after_query_param, self.before_query_param):
            url = remove_query_param(url, name)
        return url

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if self.page_keys:
            cursor = self.page_keys[-1]
        elif self.before is not None:
            cursor = self.before - 1
        else:
            return None
        return replace_query_param(self._base_url(), self.after_query_param, cursor)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if self.page_keys:
            cursor = self.page_keys[0]
        elif self.after is not None:
            cursor = self.after + 1
        else:
            return None
        return replace_query_param(self._base_url(), self.before_query_param, cursor)

    def get_paginated_response(self, data: list) -> Response:
        return Response(
            {
                "count": self.total.value,
                "count_is_estimate": self.total.is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "count_is_estimate", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": "Total rows of the list (exact unless count_is_estimate).",
                },
                "count_is_estimate": {
                    "type": "boolean",
                    "description": "True when count is PostgreSQL's estimate (large filtered lists).",
                },
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        def param(name: str, description: str) -> dict:
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "integer"},
            }

        return [
            param(self.limit_query_param, f"Rows per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})."),
            param(self.after_query_param, "Keyset cursor: rows whose key is greater (what `next` uses)."),
            param(self.before_query_param, "Keyset cursor: rows whose key is smaller (what `previous` uses)."),
            param(
                self.offset_query_param,
                f"Skip this many rows (at most {MAX_OFFSET}; follow `next` to go deeper).",
            ),
        ]
