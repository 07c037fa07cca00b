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
try:
    EventRequest(events=[event("old", now - 8 * 86400)], pixel_id=pixel_id).execute()
    print(json.dumps({"step": "old", "accepted": True}))
except FacebookRequestError as error:
    print(json.dumps({"step": "old", "code": error.api_error_code(), "subcode": error.api_error_subcode()}))
