@presence-client @if:sip @if:ims @harness:esc
Feature: Presence through the IMS core, the SUT as presence client
  Seed 003 asks that the Presence enabler use the IMS consistently: a
  presence user agent publishes its user's state with PUBLISH through the
  IMS core, which sends it to the presence server (here the harness's,
  after the S-CSCF's filter criteria), and keeps that publication by the
  entity tag and the expiration the server gave (RFC 3903). The harness
  stands for the user through the client's trigger (presence_client.
  trigger) and plays the core and the presence server. Every PUBLISH
  names the client's one AoR, so these scenarios hold the presence server
  one at a time (@harness:esc).

  Background:
    Given the SUT plays the role "presence-client"
    And the harness presence server serves the scenario

  @PRES-11
  Scenario: A change of presence is published through the core as well-formed PIDF
    When the user changes their presence
    Then the presence server gets the user's PUBLISH through the core with the new status in well-formed PIDF

  @PRES-12
  Scenario: The publication is refreshed with its entity tag before the Expires the server gave
    Given the presence server grants publications at most 2 seconds
    When the user changes their presence
    Then the presence server gets the user's PUBLISH through the core with the new status in well-formed PIDF
    And the client refreshes that publication with its entity tag and no body before its Expires runs out

  @PRES-12
  Scenario: A publication the server has lost (412) is published anew
    Given the user has changed their presence
    And the presence server will refuse the next PUBLISH that names an entity tag with 412
    When the user changes their presence
    Then the PUBLISH names the entity tag of the last publication and carries the new status
    And after the 412 the client publishes anew without SIP-If-Match and with the new status
