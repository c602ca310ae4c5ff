"""Every error code, once: its HTTP status and its message in English (the catalogue's source
language; the Vietnamese is in ``safework_common/i18n/locales/vi/LC_MESSAGES/safework.po``).

A client switches on the code, which never changes with the language; people read the message.
The reason codes of the verdicts are catalogued beside, in :mod:`safework_common.contract.reasons`.
``tests/common/test_codes.py`` fails when a code raised anywhere in the services is missing here
or a message lacks its Vietnamese. Validation details may also carry pydantic's own error types
(``missing``, ``string_too_long``...) as their code; those are pydantic's, not catalogued."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ErrorCodeInfo:
    code: str
    statuses: tuple[int, ...]  # the HTTP statuses it comes with (the first is the usual one)
    message: str  # English; the msgid of its translations


ERRORS: Final[tuple[ErrorCodeInfo, ...]] = (
    ErrorCodeInfo("bad_request", (400,), "The request is not valid."),
    ErrorCodeInfo("malformed_json", (400,), "The request body is not valid JSON."),
    ErrorCodeInfo("malformed_request", (400,), "The request could not be read."),
    ErrorCodeInfo("invalid_header", (400,), "A request header is not valid."),
    ErrorCodeInfo("invalid_request", (400,), "The token request is not valid (RFC 6749 §5.2)."),
    ErrorCodeInfo("unsupported_grant_type", (400,), "Only the client_credentials grant is supported."),
    ErrorCodeInfo("activation_code_invalid", (400,), "No such activation code."),
    ErrorCodeInfo("activation_code_expired", (400,), "This activation code has expired."),
    ErrorCodeInfo("unauthorized", (401,), "Authentication is required."),
    ErrorCodeInfo("missing_token", (401,), "A bearer token is required."),
    ErrorCodeInfo("invalid_token", (401,), "The token is not valid."),
    ErrorCodeInfo("token_expired", (401,), "The token has expired."),
    ErrorCodeInfo("token_not_yet_valid", (401,), "The token is not valid yet."),
    ErrorCodeInfo("unknown_key", (401,), "The token is signed with an unknown key."),
    ErrorCodeInfo("invalid_client", (401,), "The client ID or secret is wrong."),
    ErrorCodeInfo("client_disabled", (401,), "This client has been disabled."),
    ErrorCodeInfo("invalid_refresh_token", (401,), "The refresh token is not valid."),
    ErrorCodeInfo("refresh_token_expired", (401,), "The refresh token has expired."),
    ErrorCodeInfo("refresh_token_reused", (401,), "This refresh token was already used; the device has been revoked."),
    ErrorCodeInfo(
        "worker_not_on_roster", (401,), "The worker is no longer on the roster this device was activated for."
    ),
    ErrorCodeInfo("device_revoked", (401, 403), "This device was revoked."),
    ErrorCodeInfo("missing_internal_token", (401,), "This service answers only the gateway."),
    ErrorCodeInfo("invalid_internal_token", (401,), "Invalid internal service token."),
    ErrorCodeInfo("forbidden", (403,), "This caller may not do that."),
    ErrorCodeInfo("role_not_allowed", (403,), "This role may not use this operation."),
    ErrorCodeInfo("province_only", (403,), "Only the province authority may do this."),
    ErrorCodeInfo("scope_missing", (403,), "The token names no object to act on (a worker token without a person)."),
    ErrorCodeInfo("unsanctioned_app", (403,), "Only the province's sanctioned app may do this."),
    ErrorCodeInfo("lab_inactive", (403,), "This lab is not active and may not post results."),
    ErrorCodeInfo("accommodation_not_claimed", (403,), "An enterprise edits only the sites that house its workers."),
    ErrorCodeInfo(
        "enterprise_change_not_allowed", (403,), "A person joins another enterprise through that enterprise's roster."
    ),
    ErrorCodeInfo("not_found", (404,), "No such resource."),
    ErrorCodeInfo("accommodation_not_found", (404,), "No such accommodation."),
    ErrorCodeInfo("client_not_found", (404,), "No such client."),
    ErrorCodeInfo("device_not_found", (404,), "No such device."),
    ErrorCodeInfo("district_not_found", (404,), "No such district in the caller's scope."),
    ErrorCodeInfo("enterprise_not_found", (404,), "No such enterprise."),
    ErrorCodeInfo("lab_not_found", (404,), "No such lab."),
    ErrorCodeInfo("pass_not_found", (404,), "No such pass."),
    ErrorCodeInfo("person_not_found", (404,), "No such person."),
    ErrorCodeInfo("travel_not_found", (404,), "No such travel."),
    ErrorCodeInfo("vaccine_product_not_found", (404, 422), "No such vaccine product."),
    ErrorCodeInfo("venue_not_found", (404,), "No such venue."),
    ErrorCodeInfo("case_not_found", (404,), "No such case."),
    ErrorCodeInfo("facility_not_found", (404,), "No such isolation facility."),
    ErrorCodeInfo("room_not_found", (404,), "No such room in this facility."),
    ErrorCodeInfo("no_policy_in_force", (404,), "No policy version is in force at that instant."),
    ErrorCodeInfo("no_boarding_house_sample", (404,), "The policy in force draws no boarding-house sample."),
    ErrorCodeInfo("method_not_allowed", (405,), "This method is not allowed on this path."),
    ErrorCodeInfo("not_acceptable", (406,), "No answer in an accepted media type."),
    ErrorCodeInfo("conflict", (409,), "The request conflicts with the stored state."),
    ErrorCodeInfo("activation_code_used", (409,), "This activation code has been used."),
    ErrorCodeInfo(
        "accommodation_other_enterprise", (409,), "This concentrated site houses another enterprise's workers."
    ),
    ErrorCodeInfo("concurrent_update", (409,), "The record changed meanwhile; read it and try again."),
    ErrorCodeInfo("device_owned_by_other", (409,), "This device is registered to someone else."),
    ErrorCodeInfo("dose_conflict", (409,), "This dose number is recorded with other data."),
    ErrorCodeInfo("not_cleared_to_work", (409,), "Not cleared to work: no pass is issued."),
    ErrorCodeInfo("employee_code_taken", (409,), "The enterprise already has a person with this employee code."),
    ErrorCodeInfo(
        "idempotency_key_in_progress",
        (409,),
        "A request with this Idempotency-Key is in progress or has just finished; retry.",
    ),
    ErrorCodeInfo("licence_code_taken", (409,), "Another lab has this licence code."),
    ErrorCodeInfo("national_id_taken", (409,), "Another person has this national ID."),
    ErrorCodeInfo("previous_dose_missing", (409,), "The previous dose is not recorded."),
    ErrorCodeInfo("qr_code_taken", (409,), "Another venue has this QR code."),
    ErrorCodeInfo("tax_code_taken", (409,), "Another enterprise has this tax code."),
    ErrorCodeInfo("travel_closed", (409,), "This trip is closed and no longer changes."),
    ErrorCodeInfo("travel_open_exists", (409,), "A trip is still open; record its return first."),
    ErrorCodeInfo("vaccine_product_exists", (409,), "A vaccine product with this code exists."),
    ErrorCodeInfo("case_exists", (409,), "This positive is already a case."),
    ErrorCodeInfo("person_already_assigned", (409,), "The person is in another room; release them first."),
    ErrorCodeInfo("room_full", (409,), "The room is full."),
    ErrorCodeInfo(
        "room_risk_mix",
        (409,),
        "The room holds people of the other risk class: high-risk and low-risk people never share a room.",
    ),
    ErrorCodeInfo("length_required", (411,), "The request needs a Content-Length."),
    ErrorCodeInfo("payload_too_large", (413,), "The request body is larger than allowed."),
    ErrorCodeInfo("batch_too_large", (413,), "The batch has more items than allowed."),
    ErrorCodeInfo("unsupported_media_type", (415,), "The request body's media type is not supported."),
    ErrorCodeInfo("validation_error", (422,), "The request is not valid."),
    ErrorCodeInfo("unknown_query_parameter", (422,), "This query parameter is not known here."),
    ErrorCodeInfo("administered_in_future", (422,), "The dose's time is in the future."),
    ErrorCodeInfo("batch_empty", (422,), "The batch has no items."),
    ErrorCodeInfo("before_first_policy", (422,), "The instant is before the first policy version."),
    ErrorCodeInfo("capacity_empty", (422,), "Name at least one district."),
    ErrorCodeInfo("capacity_out_of_range", (422,), "A daily capacity is out of range."),
    ErrorCodeInfo("checked_in_in_future", (422,), "The check-in time is in the future."),
    ErrorCodeInfo("date_of_birth_in_future", (422,), "The date of birth is in the future."),
    ErrorCodeInfo("date_of_birth_too_early", (422,), "The date of birth is before 1900."),
    ErrorCodeInfo("declared_in_future", (422,), "The declaration's time is in the future."),
    ErrorCodeInfo("district_repeated", (422,), "Another key names the same district."),
    ErrorCodeInfo("dose_interval_too_short", (422,), "The dose is too soon after the previous one."),
    ErrorCodeInfo("end_not_after_start", (422,), "The end must be after the start."),
    ErrorCodeInfo(
        "enterprise_required", (422,), "A district authority registers people of its district's enterprises."
    ),
    ErrorCodeInfo("field_not_allowed", (422,), "This field is not allowed here."),
    ErrorCodeInfo("field_required", (422,), "This field is required."),
    ErrorCodeInfo("horizon_too_long", (422,), "The plan's period is too long."),
    ErrorCodeInfo("idempotency_key_reused", (422,), "This Idempotency-Key was used for another request."),
    ErrorCodeInfo("invalid_character", (422,), "Text may not contain the NUL character (U+0000)."),
    ErrorCodeInfo("invalid_cursor", (422,), "The cursor is not valid."),
    ErrorCodeInfo(
        "invalid_fhir_resource", (422,), "The FHIR resource cannot be read as this route needs it (see the field)."
    ),
    ErrorCodeInfo("invalid_idempotency_key", (422,), "Idempotency-Key must be 1-255 printable ASCII characters."),
    ErrorCodeInfo("invalid_national_id", (422,), "Not a valid national ID (12-digit CCCD or 9-digit CMND)."),
    ErrorCodeInfo("invalid_path_parameter", (422,), "A path parameter is not valid."),
    ErrorCodeInfo("invalid_phone", (422,), "Not a valid Vietnamese mobile number."),
    ErrorCodeInfo("invalid_tax_code", (422,), "Not a valid tax code."),
    ErrorCodeInfo("invalid_uuid", (422,), "Not a valid UUID."),
    ErrorCodeInfo(
        "unknown_resource_type",
        (422,),
        "_type names a resource type the export does not have (Organization, Patient, Immunization, Observation).",
    ),
    ErrorCodeInfo("employee_code_required", (422,), "A person of an enterprise has an employee code."),
    ErrorCodeInfo("left_at_without_left_status", (422,), "left_at goes with status 'left'."),
    ErrorCodeInfo("high_risk_reason_required", (422,), "A high-risk flag needs a reason."),
    ErrorCodeInfo("high_risk_flag_required", (422,), "This field goes with high_risk true."),
    ErrorCodeInfo("arrival_incomplete", (422,), "A new hire from another province gives where from and when."),
    ErrorCodeInfo("arrived_in_future", (422,), "A planned arrival is at most a year ahead."),
    ErrorCodeInfo("hire_date_before_birth", (422,), "The hire date is before the date of birth."),
    ErrorCodeInfo("left_in_future", (422,), "The departure time is in the future."),
    ErrorCodeInfo("no_vaccine_product", (422,), "No active vaccine product to plan new dose 1s with."),
    ErrorCodeInfo("null_not_allowed", (422,), "This field cannot be null."),
    ErrorCodeInfo("person_not_active", (422,), "The person has left the enterprise."),
    ErrorCodeInfo("person_not_on_roster", (422,), "The person is not on the enterprise's roster."),
    ErrorCodeInfo("product_inactive", (422,), "This vaccine product is no longer in use."),
    ErrorCodeInfo("returned_before_left", (422,), "The return is before the departure."),
    ErrorCodeInfo("returned_in_future", (422,), "The return time is in the future."),
    ErrorCodeInfo("start_too_early", (422,), "The plan cannot start that early."),
    ErrorCodeInfo("status_reason_required", (422,), "A suspension needs a reason."),
    ErrorCodeInfo("status_time_in_future", (422,), "The status change's time is in the future."),
    ErrorCodeInfo("time_before_1900", (422,), "The time is before 1900."),
    ErrorCodeInfo("under_working_age", (422,), "The person is under the working age (15)."),
    ErrorCodeInfo("unknown_district", (422,), "Not one of Bắc Giang's ten districts."),
    ErrorCodeInfo("unknown_product", (422,), "No such vaccine product."),
    ErrorCodeInfo("unknown_province", (422,), "Not one of Viet Nam's 63 provinces."),
    ErrorCodeInfo("vaccine_product_inactive", (422,), "This vaccine product is no longer in use."),
    ErrorCodeInfo("value_out_of_range", (422,), "A date, time or number is outside the supported range."),
    ErrorCodeInfo("zone_name_not_allowed", (422,), "An enterprise outside parks and clusters has no zone name."),
    ErrorCodeInfo("zone_name_required", (422,), "An enterprise in a park or cluster names its zone."),
    ErrorCodeInfo("assigned_in_future", (422,), "The assignment's time is in the future."),
    ErrorCodeInfo(
        "case_needs_confirmation",
        (422,),
        "Only an individual positive PCR makes a case by itself; confirm this positive to record it.",
    ),
    ErrorCodeInfo("close_time_in_future", (422,), "The closing time is in the future."),
    ErrorCodeInfo("contact_is_case", (422,), "The case is not its own contact."),
    ErrorCodeInfo("coordinates_incomplete", (422,), "Give both latitude and longitude, or neither."),
    ErrorCodeInfo("isolated_in_future", (422,), "The isolation time is in the future."),
    ErrorCodeInfo("no_positive_result", (422,), "The person has no such positive result."),
    ErrorCodeInfo("room_code_repeated", (422,), "Room codes repeat."),
    ErrorCodeInfo("trace_before_collection", (422,), "A trace cannot precede the specimen's collection."),
    ErrorCodeInfo("trace_time_in_future", (422,), "The trace's time is in the future."),
    ErrorCodeInfo("rate_limited", (429,), "Too many requests; retry after the time given."),
    ErrorCodeInfo("internal_error", (500,), "An unexpected error occurred."),
    ErrorCodeInfo("bad_gateway", (502,), "An upstream service answered badly."),
    ErrorCodeInfo("upstream_error", (502,), "The upstream answered with an error."),
    ErrorCodeInfo("upstream_auth_failed", (502,), "An upstream service refused the gateway's internal token."),
    ErrorCodeInfo("service_unavailable", (503,), "A dependency is unavailable; retry later."),
    ErrorCodeInfo("upstream_unavailable", (503,), "An upstream service is unavailable; retry later."),
    ErrorCodeInfo("database_unavailable", (503,), "The database is unavailable; retry later."),
    ErrorCodeInfo(
        "write_conflict",
        (503,),
        "Another request wrote the same records at the same time and nothing was written; retry.",
    ),
    ErrorCodeInfo("policy_unavailable", (503,), "The policy is unavailable; retry later."),
    ErrorCodeInfo("unreachable", (503,), "This dependency is unreachable."),
    ErrorCodeInfo("not_ready", (503,), "A dependency is unreachable."),
    ErrorCodeInfo("gateway_timeout", (504,), "An upstream service did not answer in time."),
    ErrorCodeInfo("upstream_timeout", (504,), "An upstream service did not answer in time."),
    ErrorCodeInfo("error", (400,), "The request failed."),
)

BY_CODE: Final = {e.code: e for e in ERRORS}
ERROR_CODES: Final = tuple(e.code for e in ERRORS)
