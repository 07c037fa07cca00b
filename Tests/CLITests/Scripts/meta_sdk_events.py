"""Sends events with Meta's official facebook-business SDK to a Graph endpoint given on the command
line and prints one JSON line per step, so a Swift test can check what the SDK saw."""
import json
import sys
import time

from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession
from capi_param_builder.model import PlainDataObject

base_url, pixel_id, token, prefix = sys.argv[1:5]
FacebookSession.GRAPH = base_url
FacebookAdsApi.init(access_token=token, api_version="v26.0")


def event(index, event_time):
    return Event(
        event_name="Purchase", event_time=event_time, event_id=f"{prefix}-{index}",
        action_source=ActionSource.WEBSITE, event_source_url="https://shop.example/checkout",
        user_data=UserData(emails=["Joe@Example.com"], phones=["+1 650 555 1212"], client_user_agent="Mozilla/5.0",
                           client_ip_address="203.0.113.1"),
        custom_data=CustomData(value=12.5, currency="usd"),
    )


now = int(time.time())
response = EventRequest(events=[event(i, now - 10) for i in range(3)], pixel_id=pixel_id).execute()
print(json.dumps({"step": "batch", "events_received": response.events_received, "fbtrace_id": response.fbtrace_id}))
# As during an integration: the events go to Events Manager's Test Events under this code.
response = EventRequest(events=[event("test", now - 10)], pixel_id=pixel_id, test_event_code="TEST4242").execute()
print(json.dumps({"step": "test_event_code", "events_received": response.events_received}))
# As in Meta's own examples: no event_id.
unnamed = event("unnamed", now - 10)
unnamed.event_id = None
unnamed.advanced_measurement_table = "sdk_table"
response = EventRequest(events=[unnamed], pixel_id=pixel_id).execute()
print(json.dumps({"step": "no_event_id", "events_received": response.events_received, "messages": response.messages}))
# As an app that lets the SDK's parameter builder read the request (SDK 25.0.2 and later): fbc
# and fbp from the click id and cookies, event_source_url and referrer_url with its appendix; and
# the name and birth-date parts, which the SDK sends as single strings.
with_context = event("context", now - 10)
with_context.event_source_url = None
with_context.user_data.f5first = "Zoë"
with_context.user_data.f5last = "O'Brien"
with_context.user_data.fi = "z"
with_context.user_data.dobd = "16"
with_context.user_data.dobm = "02"
with_context.user_data.doby = "1997"
with_context.set_request_context(PlainDataObject(
    host="shop.example.co.uk", query_params={"fbclid": ["IwAR2F4-dbP0l7Mn1IawQQ_GCINEz7PYXQ"]},
    cookies={"_fbp": "fb.1.1596403881668.1116446470"}, referer="https://www.facebook.com/",
    x_forwarded_for=None, remote_address=None, scheme="https", request_uri="/checkout?fbclid=IwAR2F4-dbP0l7Mn1IawQQ_GCINEz7PYXQ",
))
response = EventRequest(events=[with_context], pixel_id=pixel_id).execute()
sent = with_context.normalize()
print(json.dumps({"step": "request_context", "events_received": response.events_received, "event_id": sent["event_id"],
                  "event_source_url": sent["event_source_url"], "referrer_url": sent["referrer_url"], "user_data": sent["user_data"]}))
try:
    EventRequest(events=[event("old", now - 8 * 86400)], pixel_id=pixel_id).execute()
    print(json.dumps({"step": "old", "accepted": True}))
except FacebookRequestError as error:
    print(json.dumps({"step": "old", "code": error.api_error_code(), "subcode": error.api_error_subcode()}))
