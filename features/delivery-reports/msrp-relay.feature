@im-server @if:msrp_relay
Feature: Large Message delivery reports through an MSRP relay, the SUT as the relay
  Seed 001 relies on the 200 to the last chunk or on a success REPORT. Through
  an MSRP relay (RFC 4976) transaction responses are hop by hop: the relay's
  200 means only that the chunk reached the relay, so only a REPORT from the
  far end proves receipt. The relay must pass REPORTs end to end, must never
  make up a success, and must tell the sender about a downstream failure with
  a failure REPORT when the sender asked for failure reports.

  Background:
    Given the SUT plays the role "im-server"
    And a sender "A" and a receiver "B" with MSRP sessions at the relay

  @DR-18
  Scenario: The relay answers a SEND itself, at once, and does not pass the far 200 back
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" answers it with 200 after 6 T1
    Then "A" got exactly one response to the SEND, a 200 that came before "B" answered

  @DR-19
  Scenario: A success REPORT from the far end reaches the sender unchanged
    Given the chunks carry "Success-Report: yes"
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" answers it with 200 and sends a success REPORT
    Then "A" receives that success REPORT with its Status, Message-ID and Byte-Range unchanged

  @DR-16
  Scenario: A downstream error gives the sender a failure REPORT
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" answers it with 415
    Then "A" receives a failure REPORT with status 415 for the message

  @DR-19
  Scenario: A downstream error is never turned into a success REPORT
    Given the chunks carry "Success-Report: yes"
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" answers it with 415
    Then "A" receives no success REPORT for the message

  @DR-20
  Scenario: No downstream answer gives a 408 failure REPORT
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" does not answer it
    Then "A" receives a failure REPORT with status 408 for the message within the relay's failure timeout

  @DR-16
  Scenario: With Failure-Report no the relay sends no failure REPORT
    Given the chunks carry "Failure-Report: no"
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" answers it with 415
    Then "A" receives no REPORT for the message

  @DR-25 @DR-19 @if:msrp_relay_tls
  Scenario: Over TLS, a chunk and its success REPORT cross the relay on TLS connections only
    Given the sessions at the relay are over TLS
    And the chunks carry "Success-Report: yes"
    When "A" sends a 1000-byte "text/plain" message to "B" through the relay
    Then "B" receives the SEND
    When "B" answers it with 200 and sends a success REPORT
    Then "A" receives that success REPORT with its Status, Message-ID and Byte-Range unchanged
    And the connections to the relay stayed on TLS

  @DR-25 @if:msrp_relay_tls
  Scenario: A chunk that came over TLS reaches an msrps: next hop over TLS
    Given the sessions at the relay are over TLS
    When "A" sends a 1000-byte "text/plain" message through the relay to "C", an msrps: endpoint not at the relay
    Then "C" receives the SEND over a TLS connection the relay opened
