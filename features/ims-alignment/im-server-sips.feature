@im-server @if:sip @transport:tls
Feature: SIP over TLS through the IM server: a sips: request stays on TLS to the recipient
  Seed 003: an IM server in the IMS rests on the IMS's SIP rather than
  re-inventing it, and that includes SIP's protection of each hop. A
  MESSAGE whose Request-URI is sips: asks for TLS on every hop up to the
  recipient: the server forwards it over TLS, still as sips:, and never to
  a contact it could only reach in the clear (RFC 5630 §5.3, which removed
  RFC 3261's last-hop exception; RFC 3261 §26.2.2). The delivery report
  over TLS is checked as over the other transports (DR-5). The harness
  connects to the SUT's sip.tls, checking its certificate as the profile's
  tls section says (against the run's lab CA by default); its recipients
  register sips: contacts over TLS and take the SUT's connections with the
  harness certificate (tls/lab-ca.pem in the report folder is its CA).

  Background:
    Given the SUT plays the role "im-server"
    And an originator "alice"

  @DR-5
  Scenario Outline: The recipient's final response reaches an originator over TLS unchanged
    Given a recipient "bob" registered with the SUT over TLS
    And "bob" will answer MESSAGE with <status>
    When "alice" sends a "text/plain" MESSAGE to "bob" through the SUT over TLS
    Then "bob" receives the MESSAGE with the same body
    And the final response "alice" receives is <status>

    Examples:
      | status |
      | 200    |
      | 486    |

  @IMS-17
  Scenario: A sips: MESSAGE reaches the recipient over TLS, its Request-URI still sips:
    Given a recipient "bob" registered with the SUT over TLS
    And "bob" will answer MESSAGE with 200
    When "alice" sends a "text/plain" MESSAGE to the sips: address of "bob" through the SUT over TLS
    Then "bob" receives the MESSAGE over TLS with its sips: Request-URI
    And the final response "alice" receives is 200

  @IMS-17
  Scenario: A sips: MESSAGE for a user with only a sip: contact is not delivered
    Given a recipient "carol" registered with the SUT
    When "alice" sends a "text/plain" MESSAGE to the sips: address of "carol" through the SUT over TLS
    Then "carol" receives no copy of the MESSAGE
    And "alice" receives no 2xx response
