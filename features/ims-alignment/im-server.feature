@im-server @if:sip @if:ims
Feature: IMS alignment, the SUT as an IM server inside the IMS trust domain
  Seed 003: an IM server in an IMS registers users that come through the
  core (Path, RFC 3327) and sends their requests back by that Path as
  Route, takes the originator's identity from the P-Asserted-Identity the
  trusted core inserted rather than from a From the originator wrote
  (RFC 3325; also for a message it defers to MMS), honours no
  P-Asserted-Identity from outside the trust domain (judged by source
  address, whatever the Via says, and also for a message it stores) and
  asserts no From it did not authenticate, treats tel: and sip:…;user=phone
  forms of a number as one user (RFC 3261 §19.1.6), and routes by caller
  preferences (Accept-Contact require;explicit, RFC 3841), never falling
  back to a contact the request excludes. The harness core is trusted by
  its IP (profile ims.core); the harness's other users send from
  harness.address, outside the trust domain. These scenarios share the
  run's core side by side, each with users of its own.

  Background:
    Given the SUT plays the role "im-server"
    And the harness IMS core serves the scenario

  @IMS-1
  Scenario: A MESSAGE for a user registered through the core is sent by the recorded Path
    Given a recipient "bob" registered with the SUT through the core
    And an originator "alice"
    When "alice" sends a "text/plain" MESSAGE to "bob" through the core
    Then "bob" receives the MESSAGE through the SUT
    And the MESSAGE reached "bob" through the core, with the Path as its Route

  @IMS-9
  Scenario: The recipient is shown the identity the core asserted, not a spoofed From
    Given a recipient "bob" registered with the SUT through the core
    And an originator "alice" who writes a spoofed From
    When "alice" sends a "text/plain" MESSAGE to "bob" through the core
    Then "bob" receives the MESSAGE through the SUT
    And "bob" is shown "alice" as the sender

  @IMS-10 @if:store_and_forward
  Scenario: A stored message is delivered naming the asserted originator, not a spoofed From
    Given an originator "alice" who writes a spoofed From
    When "alice" sends a "text/plain" MESSAGE to "carol" through the core
    And "carol" comes online and registers with the SUT through the core
    Then "carol" receives the MESSAGE through the SUT
    And "carol" is shown "alice" as the sender

  @IMS-11
  Scenario: A P-Asserted-Identity from outside the trust domain is not passed on
    Given a recipient "bob" registered with the SUT through the core
    And an originator "mallory" who forges a P-Asserted-Identity
    When "mallory" sends a "text/plain" MESSAGE with that identity to "bob" straight to the SUT
    Then the SUT refuses the MESSAGE or "bob" receives it without the identity "mallory" forged

  @IMS-11
  Scenario: A Via naming the core does not bring a forged P-Asserted-Identity into the trust domain
    Given a recipient "bob" registered with the SUT through the core
    And an originator "mallory" who forges a P-Asserted-Identity and a Via naming the core
    When "mallory" sends a "text/plain" MESSAGE with that identity to "bob" straight to the SUT
    Then the SUT refuses the MESSAGE or "bob" receives it without the identity "mallory" forged

  @IMS-11 @if:store_and_forward
  Scenario: A forged P-Asserted-Identity is not kept with a message stored for an offline user
    Given an originator "mallory" who forges a P-Asserted-Identity
    When "mallory" sends a "text/plain" MESSAGE with that identity to "carol" straight to the SUT
    And "carol" comes online and registers with the SUT through the core
    Then the SUT refuses the MESSAGE or "carol" receives it without the identity "mallory" forged

  @IMS-11
  Scenario: A From written outside the trust domain is not asserted
    Given a recipient "bob" registered with the SUT through the core
    And an originator "mallory" who writes a spoofed From
    When "mallory" sends a "text/plain" MESSAGE to "bob" straight to the SUT
    Then the SUT refuses the MESSAGE or "bob" receives it with no P-Asserted-Identity naming the From "mallory" wrote

  @DEFER-9 @if:deferral
  Scenario: A MESSAGE deferred to MMS behind the core names the asserted originator, not a spoofed From
    Given the harness plays the MMS Relay/Server the SUT defers to
    And an originator "alice" who writes a spoofed From
    When "alice" sends a "text/plain;charset=UTF-8" MESSAGE to the MMS user "erin" through the core
    Then the harness MMSC receives an M-Send.req for the MESSAGE
    And the M-Send.req is from the SIP URI of "alice"

  @IMS-12
  Scenario Outline: A number written as a <form> URI reaches the user registered under it
    Given a recipient "dave" registered with the SUT through the core under a telephone number
    And an originator "alice"
    When "alice" sends a "text/plain" MESSAGE to "dave" as a <form> URI through the core
    Then "dave" receives the MESSAGE through the SUT

    Examples:
      | form      |
      | tel       |
      | separated |

  @IMS-13 @if:store_and_forward
  Scenario: A P-Asserted-Identity with a SIP and a tel value names the originator of a stored message
    Given an originator "alice" with a SIP and a tel identity who writes a spoofed From
    When "alice" sends a "text/plain" MESSAGE to "carol" through the core
    And "carol" comes online and registers with the SUT through the core
    Then "carol" receives the MESSAGE through the SUT
    And "carol" is shown "alice" as the sender

  @IMS-14
  Scenario Outline: A MESSAGE requiring the CPM pager-mode ICSI reaches only the contact that declared it (registered <order>, answering <answer>)
    Given "bob" registered two contacts through the core, the one declaring the CPM pager-mode ICSI <order> and one declaring only +g.oma.sip-im
    And the contact of "bob" the MESSAGE requires will answer MESSAGE with <answer>
    And an originator "alice"
    When "alice" sends a "text/plain" MESSAGE to "bob" requiring the CPM pager-mode ICSI through the core
    Then only the contact of "bob" that declared the ICSI receives the MESSAGE

    # Either order: a server that ignores Accept-Contact and takes the
    # oldest, or the latest, contact fails one of them. The refusal: a
    # server that takes require as a mere preference tries the other
    # contact after the 486 (RFC 3841 §7.2.4 drops it from the target set).
    Examples:
      | order | answer |
      | first | 200    |
      | last  | 200    |
      | last  | 486    |

  @IMS-16
  Scenario Outline: A push requiring its application reaches only the user's push device (registered <order>, answering <answer>)
    Given "erin" registered a push device for "x-liaison.test-app" and an IM client through the core, the push device <order>
    And the contact of "erin" the MESSAGE requires will answer MESSAGE with <answer>
    And an originator "alice"
    When "alice" sends a "text/plain" MESSAGE to "erin" requiring the push application "x-liaison.test-app" through the core
    Then only the push device of "erin" receives the MESSAGE

    Examples:
      | order | answer |
      | first | 200    |
      | last  | 200    |
      | last  | 486    |
