# Group Management on the Ut reference point (seed 003, "PAG Group
# Management; use the IMS consistently"): the SUT is an XDMS, an XCAP
# server (RFC 4825) holding users' resource-lists (RFC 4826) and PoC group
# documents. The harness plays the aggregation proxy the XDMS trusts: it
# sends from xdms.proxy with the user's identity asserted in
# xdms.identity_header, and, where it has an address of its own other than
# the proxy's (@if:xdms_untrusted_source: not on IPv6 loopback), a client
# the XDMS must not trust. Every scenario works on documents of its own
# users (XUIs sip:alice-TOKEN@DOMAIN), so scenarios run side by side.
# An XDMS with a SIP side (@if:xcap_diff: capability xcap_diff, a
# sip.address and the harness IMS core in front of it) notifies a user
# subscribed through the core of changes to her documents (RFC 5875).
@xdms
Feature: An XDMS keeps each user's XCAP documents for that user, as XCAP says

  @GM-1
  Scenario: Another asserted identity can neither read, replace nor delete a user's document
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When bob, asserted by the proxy, reads alice's document
    Then the XDMS refuses with 403 or 404 and none of alice's document
    When bob, asserted by the proxy, replaces alice's document
    Then the XDMS refuses with 403 or 404 and none of alice's document
    When bob, asserted by the proxy, deletes alice's document
    Then the XDMS refuses with 403 or 404 and none of alice's document
    And alice reads her document unchanged, with the same entity tag

  @GM-2 @if:xdms_untrusted_source
  Scenario: The asserted-identity header sent from a client's address authorizes nothing
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When a client at the harness's own address, asserting alice in the proxy's header, reads alice's document
    Then the XDMS refuses with 401 or 403 and none of alice's document
    When a client at the harness's own address, asserting alice in the proxy's header, replaces alice's document
    Then the XDMS refuses with 401 or 403 and none of alice's document
    And alice reads her document unchanged, with the same entity tag

  @GM-2
  Scenario: An X-3GPP-Intended-Identity without an asserted identity authorizes nothing
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When a request from the proxy's address naming alice only in X-3GPP-Intended-Identity reads alice's document
    Then the XDMS refuses with 401 or 403 and none of alice's document
    When a request from the proxy's address naming alice only in X-3GPP-Intended-Identity replaces alice's document
    Then the XDMS refuses with 401 or 403 and none of alice's document
    And alice reads her document unchanged, with the same entity tag

  @GM-3
  Scenario: A PUT that creates a document is answered 201 with an ETag, one that replaces it 200 with a new ETag
    Given the harness plays the aggregation proxy in front of the XDMS
    When alice puts a new resource-lists document through the proxy
    Then the XDMS answers 201 with an entity tag
    When alice puts a changed resource-lists document in its place
    Then the XDMS answers 200 or 204 with an entity tag other than the first
    And alice reads the changed document, with the entity tag of the replacement

  @GM-4
  Scenario: A stale If-Match is refused with 412 and changes nothing; If-None-Match of the current tag gets 304
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    And alice has replaced it, so that the first entity tag is stale
    When alice puts another document with If-Match naming the stale entity tag
    Then the XDMS answers 412
    When alice deletes her document with If-Match naming the stale entity tag
    Then the XDMS answers 412
    And alice reads her document unchanged, with the same entity tag
    When alice reads her document with If-None-Match naming its current entity tag
    Then the XDMS answers 304 without the document

  @GM-5
  Scenario: A body that is not well-formed XML is refused with 409 and a not-well-formed error document
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When alice puts a body that is not well-formed XML in its place
    Then the XDMS answers 409 with an xcap-error document whose condition is not-well-formed
    And alice reads her document unchanged, with the same entity tag

  @GM-5
  Scenario: A document sent under a Content-Type other than its AUID's is refused with 415
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When alice puts a resource-lists document as text/plain in its place
    Then the XDMS answers 415
    And alice reads her document unchanged, with the same entity tag

  @GM-6
  Scenario: An entry put at a node selector is added, and an element GET answers application/xcap-el+xml
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When alice puts an entry for carol at her friends list's node selector as application/xcap-el+xml
    Then the XDMS accepts the element with 200 or 201 and an entity tag
    And alice's document then holds the entry for carol, and nothing else changed
    When alice reads the entry for carol at its node selector
    Then the XDMS answers 200 with that entry alone as application/xcap-el+xml

  @GM-7 @if:xcap_diff
  Scenario: A change to a user's document reaches her xcap-diff subscription as a NOTIFY naming it and its new entity tag
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    And alice has subscribed through the core to changes of her documents (xcap-diff)
    When alice puts a changed resource-lists document in its place
    Then the XDMS accepts the document with 200 or 201 and an entity tag
    And alice is sent through the core an xcap-diff NOTIFY naming her document with the entity tag the PUT returned

  @GM-8 @if:poc_groups
  Scenario: A PoC group document is returned element for element as written
    Given the harness plays the aggregation proxy in front of the XDMS
    When alice puts a PoC group document with a display name and three members through the proxy
    Then the XDMS accepts the document with 200 or 201 and an entity tag
    And alice reads the group document element for element as written, as application/vnd.oma.poc.groups+xml

  @GM-9
  Scenario: A request under an unknown AUID or through a node selector that does not parse is refused, and nothing changes
    Given the harness plays the aggregation proxy in front of the XDMS
    And alice has created her resource-lists document through the proxy
    When alice puts her document under an AUID the XDMS does not know
    Then the XDMS refuses with 403 or 404 and none of alice's document
    When alice reads her document under that AUID
    Then the XDMS answers 404
    When alice reads her document through a node selector that does not parse
    Then the XDMS refuses with 400 or 404 and none of alice's document
    When alice puts an entry through a node selector that does not parse
    Then the XDMS refuses with 400 or 404 and none of alice's document
    And alice reads her document unchanged, with the same entity tag
