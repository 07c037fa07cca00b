"""Reads ad insights with Meta's official facebook-business SDK (AdAccount.get_insights, sync and
async) from a Graph endpoint given on the command line; prints the rows as one JSON line per step,
so a Swift test can compare them with what the connector stored."""
import json
import sys
import time

from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

base_url, account_id, token, since, until = sys.argv[1:6]
FacebookSession.GRAPH = base_url
FacebookAdsApi.init(access_token=token, api_version="v26.0")

account = AdAccount(f"act_{account_id}")
info = account.api_get(fields=["timezone_name", "currency"])
print(json.dumps({"step": "account", "timezone_name": info["timezone_name"], "currency": info["currency"]}))

fields = ["campaign_id", "spend", "impressions", "clicks", "actions", "action_values", "date_start", "date_stop"]
params = {
    "level": "campaign",
    "time_range": {"since": since, "until": until},
    "time_increment": 1,
    "action_attribution_windows": ["1d_click", "7d_click", "1d_view"],
    "action_report_time": "mixed",
    "limit": 5,
}
rows = [dict(row) for row in account.get_insights(fields=fields, params=params)]
print(json.dumps({"step": "sync", "rows": rows}))

job = account.get_insights(fields=fields, params=params, is_async=True)
for _ in range(20):
    job.api_get()
    if job[AdReportRun.Field.async_status] == "Job Completed" and job[AdReportRun.Field.async_percent_completion] == 100:
        break
    time.sleep(0.05)
rows = [dict(row) for row in job.get_result(params={"limit": 5})]
print(json.dumps({"step": "async", "status": job[AdReportRun.Field.async_status], "rows": rows}))
