@im-server @if:sip
Feature: Pager-mode delivery reports, the SUT as IM server (registrar, proxy, store)
  Seed 001: the originator (for instance an SMS-IM interworking function)
  relies on the final response to its MESSAGE as the delivery report. An IM
  server in between must hand the recipient's answer back unchanged, must
  never invent a 200 the recipient did not send, and may answer 202 only
  when it has stored the message, which it must then deliver
  (RFC 3428 §4, §7; RFC 3261 §16.6, §16.7, §17.2.2).

  Background:
    Given the SUT plays the role "im-server"
    And a recipient "bob" registered with the SUT
    And an originator "alice"

  @DR-5
  Scenario Outline: The recipient's final response reaches the originator unchanged
    Given "bob" will answer MESSAGE with <status>
    When "alice" sends a "text/plain" MESSAGE to "bob" through the SUT
    Then "bob" receives the MESSAGE with the same body
    And the final response "alice" receives is <status>

    Examples:
      | status |
      | 200    |
      | 486    |
      | 415    |
      | 603    |

  @DR-5 @transport:ws
  Scenario Outline: The recipient's final response reaches an originator over WebSocket unchanged
    # RFC 7118: the originator opens a WebSocket connection to the SUT's
    # sip.ws (subprotocol sip); the SUT's answer goes back over it (§5).
    Given "bob" will answer MESSAGE with <status>
    When "alice" sends a "text/plain" MESSAGE to "bob" through the SUT over WebSocket
    Then "bob" receives the MESSAGE with the same body
    And the final response "alice" receives is <status>
    And "alice" received the final response over its WebSocket connection with its own Via on top

    Examples:
      | status |
      | 200    |
      | 486    |

  @DR-6
  Scenario: No final response reaches the originator before the recipient answers
    Given "bob" will answer MESSAGE with 486 after 6 T1
    When "alice" sends a "text/plain" MESSAGE to "bob" through the SUT
    Then "alice" receives no 2xx response
    And no final response reached "alice" before "bob" answered

  @DR-6
  Scenario: A recipient that never answers is not reported as having received
    Given "bob" will not answer MESSAGE
    When "alice" sends a "text/plain" MESSAGE to "bob" through the SUT
    Then "bob" receives the MESSAGE with the same body
    And "alice" receives no 2xx response

  @DR-6 @unless:store_and_forward @unless:defers_own_users
  Scenario: A message for an unregistered recipient is not reported as delivered
    When "alice" sends a "text/plain" MESSAGE to "carol" through the SUT
    Then "alice" receives no 2xx response

  @DR-4
  Scenario: A retransmission from the originator does not reach the recipient as a new transaction
    Given "bob" will answer MESSAGE with 200
    When "alice" sends a "text/plain" MESSAGE to "bob" through the SUT
    And the final response "alice" receives is 200
    And "alice" retransmits the same MESSAGE
    Then the retransmission is answered with the same final response
    And "bob" has received exactly one MESSAGE transaction

  @DR-7 @if:store_and_forward
  Scenario: A message for an offline recipient is accepted with 202 and delivered when it registers
    When "alice" sends a "text/plain;charset=UTF-8;format=fixed" MESSAGE to "carol" through the SUT
    Then the final response "alice" receives is 202
    When "carol" comes online and registers with the SUT
    Then "carol" receives the MESSAGE with the same body
