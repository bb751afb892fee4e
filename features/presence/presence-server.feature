@presence-server @if:sip @if:ims
Feature: Presence through the IMS core, the SUT as presence server
  Seed 003 asks that the Presence enabler use the IMS consistently: the
  presence server sits behind the IMS core, which routes its users'
  PUBLISH and SUBSCRIBE to it (here with a preloaded Route, as an S-CSCF
  does after its filter criteria) and asserts who they are
  (P-Asserted-Identity, RFC 3325); the server trusts that identity from
  the core's address only, authorizes watchers by it through the
  presentity's pres-rules (RFC 5025, set over XCAP through the harness's
  aggregation proxy), sends its NOTIFYs back through the route the
  SUBSCRIBE recorded, and keeps its watcher lists for the presentity
  alone. Every scenario has users of its own, so they run side by side.

  Background:
    Given the SUT plays the role "presence-server"
    And the harness IMS core serves the scenario

  @PRES-1
  Scenario: A PUBLISH gets an entity tag, a refresh with it is taken and an unknown one is 412
    When "alice" publishes her presence through the core
    Then the PUBLISH is answered 200 with a SIP-ETag and an Expires no longer than asked
    When "alice" refreshes her publication with its entity tag through the core
    Then the refresh is answered 200 with a new SIP-ETag and an Expires no longer than asked
    When "alice" refreshes her publication with an unknown entity tag through the core
    Then the PUBLISH is answered 412

  @PRES-2 @if:pres_rules
  Scenario: The watcher is the identity the core asserted, whatever its From says
    Given "alice" allows "bob" in her pres-rules
    And "alice" has published her presence through the core
    When "bob" subscribes to "alice" through the core with the From of "carol"
    Then "bob" is sent the presence "alice" published
    When "carol" subscribes to "alice" through the core with the From of "bob"
    Then "carol" is sent no presence of "alice"

  @PRES-3 @if:pres_rules
  Scenario: A watcher the rules do not allow gets no presence, at once or after a PUBLISH
    Given "alice" allows "bob" in her pres-rules
    When "dave" subscribes to "alice" through the core
    And "alice" publishes her presence through the core
    Then "dave" is sent no presence of "alice"

  @PRES-4 @if:pres_rules
  Scenario: The NOTIFY carries the published PIDF element for element
    Given "alice" allows "bob" in her pres-rules
    And "alice" has published her presence through the core
    When "bob" subscribes to "alice" through the core
    Then "bob" is sent the presence "alice" published, element for element

  @PRES-5 @if:pres_rules
  Scenario: NOTIFYs follow the route the SUBSCRIBE recorded
    Given "alice" allows "bob" in her pres-rules
    And "alice" has published her presence through the core
    When "bob" subscribes to "alice" through the core
    Then "bob" is sent the presence "alice" published
    And the NOTIFYs to "bob" came through the core on the dialog's route

  @PRES-6
  Scenario: Watcher information goes to the presentity and to no one else
    Given "bob" subscribes to "alice" through the core
    When "alice" subscribes to her own watcher information through the core
    Then "alice" is sent watcher information naming "bob"
    When "mallory" subscribes to the watcher information of "alice" through the core
    Then "mallory" is sent nothing naming "bob"

  @PRES-7 @if:pres_rules
  Scenario: Rules allowing a pending watcher take effect without a new SUBSCRIBE
    Given "alice" has published her presence through the core
    And "bob" subscribes to "alice" through the core
    And "bob" is sent no presence of "alice"
    When "alice" allows "bob" in her pres-rules
    Then "bob" is sent the presence "alice" published

  @PRES-8 @if:pres_rules
  Scenario: A presentity published as sip:…;user=phone is the one watched as tel:
    Given "alice" has a telephone number and allows "bob" in her pres-rules
    And "alice" has published her presence as her sip:…;user=phone URI through the core
    When "bob" subscribes to the tel: URI of "alice" through the core
    Then "bob" is sent the presence "alice" published

  @PRES-9
  Scenario: A malformed PIDF, an unsupported type and an unknown event package are refused precisely
    When "alice" publishes a PIDF that is not well-formed through the core
    Then the PUBLISH is refused with 400 or 415
    When "alice" publishes a "text/plain" body through the core
    Then the PUBLISH is answered 415 with an Accept header
    When "bob" subscribes to "alice" for the event "x-liaison-unknown" through the core
    Then the SUBSCRIBE is answered 489 with an Allow-Events header

  @PRES-10
  Scenario: A PUBLISH asserted as another user is refused
    When "bob" publishes presence for "alice" through the core
    Then the PUBLISH is answered 403

  @PRES-10 @if:pres_rules
  Scenario: A PUBLISH asserted as another user tells no watcher its state
    Given "alice" allows "bob" in her pres-rules
    And "alice" has published her presence through the core
    And "bob" subscribes to "alice" through the core
    And "bob" is sent the presence "alice" published
    When "mallory" publishes presence for "alice" through the core
    Then "bob" is sent nothing of what "mallory" published

  @PRES-10
  Scenario: A PUBLISH from outside the core is refused
    When "mallory" publishes presence for "alice" with a forged P-Asserted-Identity straight to the SUT
    Then the PUBLISH is refused with 401, 403 or 407
