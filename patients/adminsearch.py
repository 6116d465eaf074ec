"""Admin search without patient names in URLs.

Django's changelist search is a GET form, so a name typed in it lands in the address bar, the
browser history and every access log. With this mixin the search form posts the term; the
term is kept in the staff member's session under a random reference, and the list's URL (and
its paging, sorting and filter links) carries only `q=~<reference>`.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.views.main import SEARCH_VAR
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token

SESSION_KEY = "admin_search_terms"
REF_MARK = "~"
MAX_KEPT = 20  # the latest searches of a session; older references show the whole list again
MAX_TERM = 200


def _terms(request: HttpRequest) -> dict[str, str]:
    return dict(request.session.get(SESSION_KEY, {}))


def search_ref_store(request: HttpRequest, term: str) -> str:
    terms = _terms(request)
    ref = secrets.token_urlsafe(9)
    terms[ref] = term[:MAX_TERM]
    request.session[SESSION_KEY] = dict(list(terms.items())[-MAX_KEPT:])
    return REF_MARK + ref


def search_term_of(request: HttpRequest, raw: str) -> str:
    if not raw.startswith(REF_MARK):
        return ""  # a plain term never reaches the query; changelist_view turns it into a reference
    return _terms(request).get(raw[len(REF_MARK) :], "")


class PostSearchMixin:
    """For ModelAdmins whose search fields hold PHI (names, MRNs, complaints)."""

    search_by_post = True  # read by templates/admin/search_form.html

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST" and "_search" in request.POST:
            skip = {SEARCH_VAR, "_search", "csrfmiddlewaretoken"}
            params = {k: v for k, v in request.POST.items() if k not in skip}
            term = request.POST.get(SEARCH_VAR, "").strip()
            if term:
                params[SEARCH_VAR] = search_ref_store(request, term)
            return HttpResponseRedirect(f"{request.path}?{urlencode(params)}" if params else request.path)
        raw = request.GET.get(SEARCH_VAR, "")
        if raw and not raw.startswith(REF_MARK):
            # An old bookmark or a hand-typed URL: swap the term for a reference so paging and
            # sorting links do not repeat it.
            params = request.GET.copy()
            params[SEARCH_VAR] = search_ref_store(request, raw)
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        return super().get_search_results(request, queryset, search_term_of(request, search_term))  # type: ignore[misc]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        cl = super().get_changelist_instance(request)  # type: ignore[misc]
        cl.query = search_term_of(request, cl.query)  # shown in the search box, in the page only
        cl.search_csrf_token = get_token(request)
        return cl
