@im-server @if:sip @if:deferral
Feature: MMS as the deferred mode of IMS messaging, the SUT as IM server
  Seed 000 (3GPP SA2 to T2): MMS is to be the deferred mode of IMS
  messaging, so an IM server that cannot deliver a MESSAGE now may hand it
  to MMS, addressed to the recipient's SIP URI. The harness plays the MMS
  Relay/Server the profile names (deferral.mmsc_url, MM1: the server POSTs
  an M-Send.req and gets an M-Send.conf) and the IMS users; the users of
  deferral.recipient_domain are the ones the server knows as MMS users.
  Delivery-report integrity (seed 001) still holds: a deferred message is
  accepted with 202, neither reported delivered (200) nor failed (an
  error), and a message the recipient took by IM is not sent again by MMS.

  Background:
    Given the SUT plays the role "im-server"
    And the harness plays the MMS Relay/Server the SUT defers to
    And an originator "alice"

  @DEFER-2
  Scenario: A MESSAGE for an MMS user who is not registered is submitted to MMS unchanged
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the SUT
    Then the harness MMSC receives an M-Send.req for the MESSAGE
    And the M-Send.req is addressed to the SIP URI of "erin"
    And the M-Send.req carries the MESSAGE body byte for byte with its content type

  @DEFER-2
  Scenario Outline: A MESSAGE the MMS user's client answers with <status> is submitted to MMS unchanged
    Given an MMS user "erin" registered with the SUT
    And "erin" will answer MESSAGE with <status>
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the SUT
    Then "erin" receives the MESSAGE with the same body
    And the harness MMSC receives an M-Send.req for the MESSAGE
    And the M-Send.req is addressed to the SIP URI of "erin"
    And the M-Send.req carries the MESSAGE body byte for byte with its content type

    Examples:
      | status |
      | 480    |
      | 408    |

  @DEFER-7
  Scenario: A MESSAGE deferred for an MMS user who is not registered is answered 202
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the SUT
    Then the final response "alice" receives is 202

  @DEFER-7
  Scenario Outline: A MESSAGE deferred after the MMS user's client answered <status> is answered 202
    Given an MMS user "erin" registered with the SUT
    And "erin" will answer MESSAGE with <status>
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the SUT
    Then the final response "alice" receives is 202

    Examples:
      | status |
      | 480    |
      | 408    |

  @DEFER-8
  Scenario: A MESSAGE the MMS user's client takes is not submitted to MMS as well
    Given an MMS user "erin" registered with the SUT
    And "erin" will answer MESSAGE with 200
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the SUT
    Then the final response "alice" receives is 200
    And the harness MMSC receives no M-Send.req for the MESSAGE

  @DEFER-9
  Scenario: The deferred MM names the originator by its SIP URI
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the SUT
    Then the harness MMSC receives an M-Send.req for the MESSAGE
    And the M-Send.req is from the SIP URI of "alice"
