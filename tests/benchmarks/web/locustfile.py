"""Browsing users for ``make bench-web``: Registry and Marketplace listings and search, app
pages, the job list, job status polling (HTMX) and API reads with keys. Each simulated user
takes one benchmark account (session cookie + API key from the data generator's file) and
thinks 1–5 s between requests."""

from __future__ import annotations

import itertools
import json
import os
import random

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

DATA = json.loads(open(os.environ["QH_BENCH_CREDS"]).read())  # noqa: SIM115
_accounts = itertools.cycle(DATA["users"])
UA = "qh-bench"  # the session cookies were signed for this agent from 127.0.0.1


class Browser(FastHttpUser):
    wait_time = between(1, 5)
    connection_timeout = 30.0
    network_timeout = 30.0

    def on_start(self):
        # Two browsers' worth of state per user, each sent explicitly: a visitor's cookie for
        # the public pages and the account's signed-in cookie for its jobs. A shared cookie
        # jar would sign the "visitor" in after the first job page.
        self.client.client.cookiejar = None
        self.account = next(_accounts)
        self.visitor_headers = {"User-Agent": UA}
        self.page_headers = {"User-Agent": UA, "Cookie": f"session={self.account['cookie']}"}
        self.api_headers = {"User-Agent": UA, "X-API-Key": self.account["api_key"]}
        self.etags = {}  # (path, HX-Target) -> the ETag of the last 200

    def _get(self, path, name, headers=None):
        if headers is not None:
            # Like a browser's HTTP cache: what came with an ETag is asked again with
            # If-None-Match (the portal tags HTMX polls: portal/core/conditional.py).
            key = (path, headers.get("HX-Target"))
            etag = self.etags.get(key)
            if etag:
                headers = {**headers, "If-None-Match": etag}
            response = self.client.get(path, name=name, headers=headers)
            if response.status_code == 200 and (response.headers or {}).get("ETag"):
                self.etags[key] = response.headers["ETag"]
            return
        # A visitor keeps the session cookie (its CSRF token) the first page gave it.
        response = self.client.get(path, name=name, headers=self.visitor_headers)
        cookie = (response.headers or {}).get("Set-Cookie", "")
        if cookie.startswith("session=") and "Cookie" not in self.visitor_headers:
            self.visitor_headers = {**self.visitor_headers, "Cookie": cookie.split(";", 1)[0]}

    @task(4)
    def registry(self):
        page = random.choice([1, 1, 1, 2, 3, random.randint(4, 200)])
        self._get(f"/registry/?page={page}", "registry list")

    @task(2)
    def registry_search(self):
        self._get(f"/registry/?q={random.choice(DATA['words'])}", "registry search")

    @task(3)
    def marketplace(self):
        self._get(f"/marketplace/?page={random.choice([1, 1, 2, 3])}", "marketplace list")

    @task(1)
    def marketplace_search(self):
        self._get(f"/marketplace/?q={random.choice(DATA['words'])}", "marketplace search")

    @task(3)
    def app_page(self):
        self._get(f"/registry/{random.choice(DATA['apps'])}", "registry app page")

    @task(1)
    def listing_page(self):
        self._get(f"/marketplace/{random.choice(DATA['listings'])}", "marketplace listing page")

    @task(2)
    def job_list(self):
        self._get("/jobs", "job list", self.page_headers)

    @task(3)
    def job_poll(self):
        jobs = self.account["live_jobs"] or self.account["jobs"]
        headers = {**self.page_headers, "HX-Request": "true", "HX-Target": "job-status"}
        self._get(f"/jobs/{random.choice(jobs)}", "job status poll (htmx)", headers)

    @task(1)
    def job_page(self):
        self._get(f"/jobs/{random.choice(self.account['jobs'])}", "job page", self.page_headers)

    @task(2)
    def api_jobs(self):
        self._get("/api/v1/jobs?per_page=20", "api jobs list", self.api_headers)

    @task(1)
    def api_job(self):
        job = random.choice(self.account["jobs"])
        self._get(f"/api/v1/jobs/{job}", "api job", self.api_headers)

    @task(1)
    def api_registry(self):
        self._get(
            f"/api/v1/registry/?q={random.choice(DATA['words'])}",
            "api registry search",
            self.api_headers,
        )
