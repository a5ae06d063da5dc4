"""Status API routes of business exceptions (included by hubconsole/api_urls.py)."""

from rest_framework.routers import SimpleRouter

from apps.exceptions.api.views import ExceptionViewSet

router = SimpleRouter()
router.register("exceptions", ExceptionViewSet, basename="exception")

urlpatterns = router.urls
