@im-client @if:msrp
Feature: Large Message mode delivery reports, the SUT as the receiving IM client
  Seed 001: for a Large Message (an MSRP session, RFC 4975) the 200 OK to the
  last chunk proves that the client received the message; success REPORTs,
  when requested, cover the whole message (one REPORT, or one per range) and
  none comes before the 200 to a chunk it reports on; a message the client
  cannot take gets an error response instead; an aborted message is never
  reported as received. Each chunk's transaction is answered once: a second,
  different response to it fails the scenario that judged the first
  (RFC 4975 §7.1).
  The harness offers the session (SIP INVITE with SDP), opens the MSRP
  connection as the active side (RFC 4975 §5.4) and sends the chunks.

  Background:
    Given the SUT plays the role "im-client"

  @DR-9
  Scenario: An offered MSRP session is accepted with an MSRP path
    When the harness offers a Large Message session with "text/plain"
    Then the SUT answers the offer with 200 and an MSRP path
    And the harness opens the MSRP connection to that path
    And the harness ends the session with BYE and the SUT answers 200

  @DR-9 @unless:accepts_any_type
  Scenario: An offer with no type the client takes is rejected
    When the harness offers a Large Message session with "application/x-liaison-unsupported"
    Then the SUT rejects the offer

  @DR-10
  Scenario: The 200 to the final chunk is the receipt of the whole message
    Given a Large Message session with the SUT
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes
    Then the final chunk gets a 200 response

  @DR-11
  Scenario: Each chunk is answered at once, before the next one is sent
    Given a Large Message session with the SUT
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes, each after the previous one's response
    Then every chunk was answered with 200 before the next one was sent

  @DR-12
  Scenario: Requested success REPORTs cover the message, each after the 200s it reports on
    Given a Large Message session with the SUT
    And the chunks carry "Success-Report: yes"
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes
    Then the final chunk gets a 200 response
    And success REPORTs cover the whole message, none before the 200 to a chunk it reports on

  @DR-13
  Scenario: No success REPORT when none is requested
    Given a Large Message session with the SUT
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes
    Then the final chunk gets a 200 response
    And no success REPORT arrives

  @DR-13
  Scenario: No success REPORT with Success-Report: no
    Given a Large Message session with the SUT
    And the chunks carry "Success-Report: no"
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes
    Then the final chunk gets a 200 response
    And no success REPORT arrives

  @DR-14
  Scenario: With Failure-Report partial a successful chunk gets no response
    Given a Large Message session with the SUT
    And the chunks carry "Failure-Report: partial"
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes
    Then no chunk gets a 200 response

  @DR-14
  Scenario: With Failure-Report no nothing is answered, not even an error
    Given a Large Message session with the SUT
    And the chunks carry "Failure-Report: no"
    When the harness sends a 3000-byte "application/x-liaison-unsupported" message in chunks of 1024 bytes
    Then no chunk gets any response

  @DR-15 @unless:accepts_any_type
  Scenario: An unsupported content type gets 415 and no success REPORT
    Given a Large Message session with the SUT
    And the chunks carry "Success-Report: yes"
    When the harness sends a 3000-byte "application/x-liaison-unsupported" message in chunks of 1024 bytes
    Then the first chunk gets a 415 response
    And no success REPORT arrives

  @DR-15 @if:msrp_max_size
  Scenario: A message larger than the client takes gets 413 and no success REPORT
    Given a Large Message session with the SUT
    And the chunks carry "Success-Report: yes"
    When the harness sends a "text/plain" message larger than the SUT takes
    Then the first chunk gets a 413 response
    And no success REPORT arrives

  @DR-15
  Scenario: A SEND for a session the client does not have gets 481
    Given a Large Message session with the SUT
    When the harness sends a chunk to an MSRP session the SUT does not have
    Then the first chunk gets a 481 response

  @DR-17
  Scenario: An aborted message is not reported as received
    Given a Large Message session with the SUT
    And the chunks carry "Success-Report: yes"
    When the harness sends the first 2048 bytes of a 3000-byte "text/plain" message in chunks of 1024 bytes and aborts it
    Then no success REPORT claims the whole message

  @DR-25 @if:msrp_tls
  Scenario: A Large Message offered over TLS is answered, acknowledged and reported over TLS
    Given a Large Message session over TLS with the SUT
    And the chunks carry "Success-Report: yes"
    When the harness sends a 3000-byte "text/plain" message in chunks of 1024 bytes
    Then the final chunk gets a 200 response
    And success REPORTs cover the whole message, none before the 200 to a chunk it reports on
    And the MSRP connection stayed on TLS
