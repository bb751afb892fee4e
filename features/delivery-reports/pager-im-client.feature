@im-client
Feature: Pager-mode delivery reports, the SUT as the receiving IM client
  Seed 001 (OMA MWG to 3GPP SA2): when an SMS is delivered as a pager-mode
  IM, the 200 OK that the recipient's client sends to the SIP MESSAGE is the
  proof that it received the message, and an error response is the proof
  that it did not. So the client's answers must mean exactly that
  (RFC 3428 §7; RFC 3261 §17.2.2 for retransmissions).

  Background:
    Given the SUT plays the role "im-client"

  @DR-1
  Scenario: A text/plain MESSAGE is answered 200 OK
    When the harness sends a "text/plain" MESSAGE to the SUT over UDP
    Then the final response is 200

  @DR-1 @transport:tcp
  Scenario: A text/plain MESSAGE over TCP is answered 200 OK
    When the harness sends a "text/plain" MESSAGE to the SUT over TCP
    Then the final response is 200

  @DR-1 @transport:tls
  Scenario: A text/plain MESSAGE over TLS is answered 200 OK
    # RFC 3261 §26.2: the harness connects to the client's sip.tls and
    # checks its certificate (the profile's tls section); the 200 comes
    # back over that connection.
    When the harness sends a "text/plain" MESSAGE to the SUT over TLS
    Then the final response is 200

  @DR-2
  Scenario: The 200 OK to a MESSAGE carries no body and no Contact
    When the harness sends a "text/plain" MESSAGE to the SUT over UDP
    Then the final response is 200
    And the final response has no Contact header
    And the final response has no body

  # A client whose accept_types take every type (*/* or application/*) has
  # none to refuse: RFC 3261 §8.2.3 asks for 415 only for a type the UAS does
  # not support, so DR-3 is then not applicable (the report says why).
  @DR-3 @unless:accepts_any_type
  Scenario: A body type the client does not support gets 415 with Accept
    When the harness sends a MESSAGE of a type the SUT does not support over UDP
    Then the final response is 415
    And the final response has an Accept header listing a type the SUT declared
    And the Accept header does not list the type that was sent

  # Retransmissions exist only where the client takes SIP over an
  # unreliable transport: over TCP, TLS or WebSocket its server transaction
  # ends with the response (RFC 3261 §17.2.2, Timer J is 0), so a later copy
  # is a new request. A client reached only over a stream (a WebSocket
  # client behind the core) is not judged here.
  @DR-4 @transport:udp
  Scenario: A retransmitted MESSAGE gets the same final response
    When the harness sends a "text/plain" MESSAGE to the SUT over UDP
    And the final response is 200
    And the harness retransmits the same MESSAGE
    Then the retransmission is answered with the same final response
