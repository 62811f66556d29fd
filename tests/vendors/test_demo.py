def test_seed_vendors_is_idempotent_and_covers_every_status(festival):
    from domains.vendors.demo import seed_vendors
    from domains.vendors.models import Booth, BoothAssignment, VendorProfile

    seed_vendors(festival)
    seed_vendors(festival)
    assert Booth.objects.filter(festival=festival).count() == 15
    assert set(VendorProfile.objects.values_list("status", flat=True)) == set(VendorProfile.Status.values)
    assert BoothAssignment.objects.filter(festival=festival, ended_at__isnull=True).count() == 3
    assert VendorProfile.objects.get(business_name="Crate Diggers").review_note.startswith("Missing")
