@im-server @if:sip
Feature: IM offline notification and the lifetime of stored messages, the SUT as IM server
  Seed 002 (OMA BAC Push to OMA MWG): an IM server that stores a message
  for an offline user may tell the user's device by push; sitting on the
  SIP/IP core, it can act as a SIP-aware push agent and push straight to
  the device over SIP. Here the device has registered only a push contact,
  whose Contact carries +g.oma.pusheventapp with the application the
  profile declares (capabilities.offline_notification_app), and no IM
  contact. The server stores the message and answers the originator 202 —
  the push is not a delivery report (DR-7) —, pushes a MESSAGE that
  requires the application by Accept-Contact (RFC 3841), and delivers the
  stored message intact when the user's IM client registers. A stored
  message whose Expires has passed is not delivered (RFC 3261 §20.19).

  Background:
    Given the SUT plays the role "im-server"
    And an originator "alice"

  @PUSH-11 @if:store_and_forward @if:offline_notification
  Scenario: A message for a user reachable only by push is stored with 202, notified by push and delivered on registration
    Given "carol" has a device registered for push only
    When "alice" sends a "text/plain" MESSAGE to "carol" through the SUT
    Then the final response "alice" receives is 202
    And the push device of "carol" receives an offline notification
    When "carol" comes online and registers with the SUT
    Then "carol" receives the MESSAGE with the same body

  @PUSH-8 @if:store_and_forward @if:offline_notification
  Scenario: The offline notification is a SIP push for the declared application, to the user's identity
    Given "carol" has a device registered for push only
    When "alice" sends a "text/plain" MESSAGE to "carol" through the SUT
    Then the push device of "carol" receives an offline notification
    And the offline notification requires the declared push application, with require and explicit
    And the offline notification is addressed to "carol" and carries a body with its Content-Type

  @PUSH-8 @if:store_and_forward @if:offline_notification
  Scenario: A push the device refuses is a failed push, not a delivery and not a lost message
    Given "carol" has a device registered for push only
    And the push device of "carol" will answer 480
    When "alice" sends a "text/plain" MESSAGE to "carol" through the SUT
    Then the final response "alice" receives is 202
    And the push device of "carol" receives an offline notification
    When "carol" comes online and registers with the SUT
    Then "carol" receives the MESSAGE with the same body

  @PUSH-18 @if:store_and_forward
  Scenario: A stored message whose Expires has passed is not delivered when the recipient registers
    When "alice" sends a "text/plain" MESSAGE to "dave" through the SUT that expires after 1 second
    And "alice" sends a "text/plain" MESSAGE to "dave" through the SUT
    And the lifetime of the expiring MESSAGE has passed
    And "dave" comes online and registers with the SUT
    Then "dave" receives the MESSAGE with the same body
    And "dave" does not receive the expired MESSAGE
