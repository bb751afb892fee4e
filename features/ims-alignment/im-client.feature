@im-client @if:ims
Feature: IMS alignment, the SUT as an IM client behind the IMS core
  Seed 003 (OMA IMS task force): the OMA enablers are to use the IMS
  consistently. For an IM client that means registering its public identity
  through the IMS core, declaring the services it offers in the Contact of
  that REGISTER (OMA IM feature tags, OMA CPM ICSIs in +g.3gpp.icsi-ref),
  and answering requests the core forwards back through the core
  (3GPP TS 24.229; RFC 3840; RFC 3261 §18.2.2). The harness plays the core
  (P-CSCF and S-CSCF in one) at the profile's ims.core for the whole run;
  these scenarios share it side by side, and the SUT's REGISTERs go to
  every scenario that watches for one.

  Background:
    Given the SUT plays the role "im-client"
    And the harness IMS core serves the scenario

  @IMS-2 @if:ims_register
  Scenario: The client refreshes its registration through the core under its public identity
    When the SUT refreshes its registration through the core
    Then the REGISTER names the profile's AoR in To and binds a contact of the SUT

  @IMS-5 @if:ims_register @if:ims_feature_tags
  Scenario: The client's Contact declares the OMA IM feature tags it claims
    When the SUT refreshes its registration through the core
    Then the REGISTER's Contact carries every feature tag the profile claims

  @IMS-6 @if:ims_register @if:ims_icsi
  Scenario: The client's Contact declares the OMA CPM ICSIs it claims, percent-encoded
    When the SUT refreshes its registration through the core
    Then the REGISTER's Contact carries every ICSI the profile claims, percent-encoded

  @IMS-7
  Scenario: The response to a MESSAGE the core forwarded goes back through the core
    When the harness sends a "text/plain" MESSAGE to the SUT through the core
    Then the SUT's response came back through the core

  @IMS-8 @if:msrp
  Scenario: The 200 to a Large Message INVITE through the core copies the core's Record-Route
    When the harness offers a Large Message session with "text/plain" through the core
    Then the SUT's 200 to the INVITE carries the Record-Route the core added
