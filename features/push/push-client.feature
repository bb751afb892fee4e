@push-client
Feature: Push over SIP, the SUT as the push client (terminal)
  Seed 002 (OMA BAC Push): besides WSP and HTTP push, a SIP-aware push
  agent may reach a device directly over SIP, by MESSAGE or by
  SUBSCRIBE/NOTIFY. A push is a pager-mode MESSAGE whose body is the
  content itself with its own Content-Type; the application it is for
  travels as the +g.oma.pusheventapp feature tag in Accept-Contact with
  require and explicit (RFC 3841). The client answers it like any MESSAGE
  (RFC 3428 §7), takes only pushes for applications it serves, and lists
  those applications as feature tags in its Contact (RFC 3840 §8). What it
  hands to an application is seen through the upper tester a SUT may
  declare (push_client.upper_tester). The harness's push agent and upper
  tester serve these scenarios side by side: each pushes content with a
  fresh token of its own, and judges what carries it.

  Background:
    Given the SUT plays the role "push-client"

  @PUSH-6
  Scenario: A push for an application the client serves is answered 200 without body or Contact
    When the harness pushes content for the first declared application to the SUT
    Then the final response is 200
    And the final response has no Contact header
    And the final response has no body

  @PUSH-6
  Scenario: A push whose content type the client does not take is answered 415 with Accept
    When the harness pushes content of a type the SUT does not support
    Then the final response is 415
    And the final response has an Accept header listing a content type the push client declared
    And the Accept header does not list the type that was sent

  @PUSH-6 @transport:tls
  Scenario: A push over TLS for an application the client serves is answered 200 without body or Contact
    # RFC 3261 §26.2: the harness connects to the client's sip.tls and
    # checks its certificate (the profile's tls section).
    When the harness pushes content for the first declared application to the SUT over TLS
    Then the final response is 200
    And the final response has no Contact header
    And the final response has no body

  @PUSH-6 @if:push_upper_tester
  Scenario: The pushed content reaches the application unchanged, with its Content-Type
    When the harness pushes content for the first declared application to the SUT
    Then the final response is 200
    And the first declared application receives the pushed content byte for byte with its Content-Type

  @PUSH-7
  Scenario: A push for an application the client serves is accepted
    When the harness pushes content for the first declared application to the SUT
    Then the push is accepted with a 2xx response

  @PUSH-7
  Scenario: A push for an application the client does not serve is refused
    When the harness pushes content for an application the SUT does not serve
    Then the push is refused with a final response that is not a 2xx

  @PUSH-7
  Scenario: The client names the push applications it serves in its answer to OPTIONS
    When the harness sends OPTIONS to the push client
    Then the answer to OPTIONS is 200 and its Contact names every declared push application

  @PUSH-9 @if:sip_push_subscribe
  Scenario: The client subscribes to the content-push event package and answers its NOTIFYs 200
    Given the push client has subscribed to the declared push event package at the harness push agent
    And the push client answered the initial NOTIFY with 200
    When the harness push agent sends a NOTIFY carrying content for the first declared application
    Then the NOTIFY is answered 200

  @PUSH-9 @if:sip_push_subscribe_tls
  Scenario: The client subscribes over TLS at the push agent's TLS address and takes its NOTIFYs on that connection
    Given the push client has subscribed over TLS to the declared push event package at the harness push agent's TLS address
    And the push client answered the initial NOTIFY with 200
    When the harness push agent sends a NOTIFY carrying content for the first declared application
    Then the NOTIFY is answered 200 on the push client's TLS connection

  @PUSH-9 @if:sip_push_subscribe @if:push_upper_tester
  Scenario: Content pushed in a NOTIFY reaches the application unchanged
    Given the push client has subscribed to the declared push event package at the harness push agent
    When the harness push agent sends a NOTIFY carrying content for the first declared application
    Then the NOTIFY is answered 200
    And the first declared application receives the pushed content byte for byte with its Content-Type
